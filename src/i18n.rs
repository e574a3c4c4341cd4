//! Every string a human sees in a chat or on the approval page, in each locale.
//!
//! Templates use `{name}` placeholders filled by [`fill`]. A test checks that every locale has
//! every string, with the same placeholders as English.

/// The locales openfeedback speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
    ZhTw,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::ZhCn, Locale::ZhTw];

    pub fn parse(s: &str) -> Option<Locale> {
        match s.trim() {
            "en" | "en-US" | "en-GB" => Some(Locale::En),
            "zh-CN" | "zh-Hans" | "zh" => Some(Locale::ZhCn),
            "zh-TW" | "zh-Hant" | "zh-HK" => Some(Locale::ZhTw),
            _ => None,
        }
    }

    /// The BCP 47 tag, for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
            Locale::ZhTw => "zh-TW",
        }
    }

    pub fn messages(self) -> &'static Messages {
        match self {
            Locale::En => &EN,
            Locale::ZhCn => &ZH_CN,
            Locale::ZhTw => &ZH_TW,
        }
    }
}

/// The strings of one locale.
#[derive(Debug)]
pub struct Messages {
    pub approve: &'static str,
    pub reject: &'static str,
    pub asked_from: &'static str,
    pub session: &'static str,
    pub answer_by: &'static str,
    pub truncated: &'static str,
    pub approved_by: &'static str,
    pub rejected_by: &'static str,
    pub chose_by: &'static str,
    pub reason: &'static str,
    pub note: &'static str,
    pub toast_approved: &'static str,
    pub toast_rejected: &'static str,
    pub toast_chosen: &'static str,
    pub not_allowed: &'static str,
    pub expired: &'static str,
    pub moved: &'static str,
    pub reason_prompt: &'static str,
    pub reason_placeholder: &'static str,
    pub timed_out: &'static str,
    pub escalated: &'static str,
    pub cancelled: &'static str,
    pub answered_elsewhere: &'static str,
    pub at_the_terminal: &'static str,
    pub web_all_requests: &'static str,
    pub web_feedback_label: &'static str,
    pub web_feedback_hint: &'static str,
    pub web_feedback_placeholder: &'static str,
    pub web_time_left: &'static str,
    pub web_time_up: &'static str,
    pub web_waiting: &'static str,
    pub web_session_title: &'static str,
    pub web_no_requests: &'static str,
    pub web_not_open: &'static str,
    pub web_not_found: &'static str,
    pub web_cross_site: &'static str,
    pub web_peer_refused: &'static str,
    pub web_bad_form: &'static str,
    /// Footer hint where replies can be read (Discord with the Message Content intent).
    pub reply_hint: &'static str,
    /// Title of the reason modal (Discord: at most 45 characters).
    pub reason_title: &'static str,
    /// Label of the reason field (Discord: at most 45 characters).
    pub reason_label: &'static str,
    /// Button that reopens the reason form.
    pub add_reason: &'static str,
    /// The footer of a notice (a message that needs no answer).
    pub sent_from: &'static str,
    /// The extra button of an agent's permission request that also adds a standing rule.
    pub always_allow: &'static str,
}

static EN: Messages = Messages {
    approve: "✅ Approve",
    reject: "❌ Reject",
    asked_from: "Asked from {host} in {directory}",
    session: "Session: {label}",
    answer_by: "Answer by {deadline}",
    truncated: "… (truncated)",
    approved_by: "✅ Approved by {user} at {time}",
    rejected_by: "❌ Rejected by {user} at {time}",
    chose_by: "☑️ {choice}: chosen by {user} at {time}",
    reason: "Reason: {text}",
    note: "Note: {text}",
    toast_approved: "Approved ✔",
    toast_rejected: "Rejected ✔",
    toast_chosen: "Chosen ✔",
    not_allowed: "You are not allowed to answer this request.",
    expired: "This request has expired.",
    moved: "This request moved to {provider}.",
    reason_prompt: "Why reject \"{title}\"? Reply to this message with a reason within {seconds} s.",
    reason_placeholder: "Reason for rejecting",
    timed_out: "⌛ Timed out at {time}: nobody answered.",
    escalated: "↪ No answer here: moved to {provider} at {time}.",
    cancelled: "🚫 Withdrawn at {time}: the requester stopped waiting.",
    answered_elsewhere: "✔ Answered {place} at {time}.",
    at_the_terminal: "at the terminal",
    web_all_requests: "All requests",
    web_feedback_label: "Feedback (optional)",
    web_feedback_hint: "Sent with your answer: the reason when you reject, a note when you approve.",
    web_feedback_placeholder: "Why reject? Or a note for the agent…",
    web_time_left: "{time} left",
    web_time_up: "Time is up.",
    web_waiting: "Waiting for an answer",
    web_session_title: "Requests of this session",
    web_no_requests: "No requests yet.",
    web_not_open: "This request is no longer open: your answer was not recorded.",
    web_not_found: "There is no request at this address. The link may be mistyped, or from an earlier run.",
    web_cross_site: "Refused: this answer did not come from the approval page itself.",
    web_peer_refused: "Refused: this page only answers requests from this computer.",
    web_bad_form: "This answer could not be read. Reload the page and try again.",
    reply_hint: "Reply to this message to approve with a note.",
    reason_title: "Why reject?",
    reason_label: "Reason (optional)",
    add_reason: "✍️ Add a reason",
    sent_from: "From {host} in {directory}",
    always_allow: "✅ Always allow {what}",
};

static ZH_CN: Messages = Messages {
    approve: "✅ 批准",
    reject: "❌ 拒绝",
    asked_from: "来自 {host}，目录 {directory}",
    session: "会话：{label}",
    answer_by: "请在 {deadline} 前答复",
    truncated: "…（已截断）",
    approved_by: "✅ 已由 {user} 于 {time} 批准",
    rejected_by: "❌ 已由 {user} 于 {time} 拒绝",
    chose_by: "☑️ {choice}：由 {user} 于 {time} 选择",
    reason: "原因：{text}",
    note: "备注：{text}",
    toast_approved: "已批准 ✔",
    toast_rejected: "已拒绝 ✔",
    toast_chosen: "已选择 ✔",
    not_allowed: "你无权答复此请求。",
    expired: "此请求已过期。",
    moved: "此请求已转至 {provider}。",
    reason_prompt: "为什么拒绝「{title}」？请在 {seconds} 秒内回复此消息说明原因。",
    reason_placeholder: "拒绝原因",
    timed_out: "⌛ {time} 已超时：无人答复。",
    escalated: "↪ 此处无人答复：已于 {time} 转至 {provider}。",
    cancelled: "🚫 已于 {time} 撤回：请求方已停止等待。",
    answered_elsewhere: "✔ 已于 {time} 在{place}答复。",
    at_the_terminal: "终端",
    web_all_requests: "全部请求",
    web_feedback_label: "反馈（可选）",
    web_feedback_hint: "随答复一起发送：拒绝时作为原因，批准时作为备注。",
    web_feedback_placeholder: "为什么拒绝？或给智能体的备注…",
    web_time_left: "剩余 {time}",
    web_time_up: "时间已到。",
    web_waiting: "等待答复",
    web_session_title: "本会话的请求",
    web_no_requests: "暂无请求。",
    web_not_open: "此请求已不再开放：你的答复未被记录。",
    web_not_found: "此地址没有请求。链接可能有误，或来自之前的运行。",
    web_cross_site: "已拒绝：此答复并非来自审批页面本身。",
    web_peer_refused: "已拒绝：此页面只接受来自本机的请求。",
    web_bad_form: "无法读取此答复。请重新加载页面后再试。",
    reply_hint: "回复此消息即可批准并附上备注。",
    reason_title: "为什么拒绝？",
    reason_label: "原因（可选）",
    add_reason: "✍️ 补充原因",
    sent_from: "来自 {host}，目录 {directory}",
    always_allow: "✅ 始终允许 {what}",
};

static ZH_TW: Messages = Messages {
    approve: "✅ 核准",
    reject: "❌ 拒絕",
    asked_from: "來自 {host}，目錄 {directory}",
    session: "工作階段：{label}",
    answer_by: "請在 {deadline} 前回覆",
    truncated: "…（已截斷）",
    approved_by: "✅ 已由 {user} 於 {time} 核准",
    rejected_by: "❌ 已由 {user} 於 {time} 拒絕",
    chose_by: "☑️ {choice}：由 {user} 於 {time} 選擇",
    reason: "原因：{text}",
    note: "備註：{text}",
    toast_approved: "已核准 ✔",
    toast_rejected: "已拒絕 ✔",
    toast_chosen: "已選擇 ✔",
    not_allowed: "你無權回覆此請求。",
    expired: "此請求已過期。",
    moved: "此請求已轉至 {provider}。",
    reason_prompt: "為什麼拒絕「{title}」？請在 {seconds} 秒內回覆此訊息說明原因。",
    reason_placeholder: "拒絕原因",
    timed_out: "⌛ {time} 已逾時：無人回覆。",
    escalated: "↪ 此處無人回覆：已於 {time} 轉至 {provider}。",
    cancelled: "🚫 已於 {time} 撤回：請求方已停止等待。",
    answered_elsewhere: "✔ 已於 {time} 在{place}回覆。",
    at_the_terminal: "終端機",
    web_all_requests: "全部請求",
    web_feedback_label: "回饋（選填）",
    web_feedback_hint: "隨回覆一起送出：拒絕時作為原因，核准時作為備註。",
    web_feedback_placeholder: "為什麼拒絕？或給代理程式的備註…",
    web_time_left: "剩餘 {time}",
    web_time_up: "時間已到。",
    web_waiting: "等待回覆",
    web_session_title: "本工作階段的請求",
    web_no_requests: "尚無請求。",
    web_not_open: "此請求已不再開放：你的回覆未被記錄。",
    web_not_found: "此位址沒有請求。連結可能有誤，或來自先前的執行。",
    web_cross_site: "已拒絕：此回覆並非來自審核頁面本身。",
    web_peer_refused: "已拒絕：此頁面只接受來自本機的請求。",
    web_bad_form: "無法讀取此回覆。請重新載入頁面後再試。",
    reply_hint: "回覆此訊息即可核准並附上備註。",
    reason_title: "為什麼拒絕？",
    reason_label: "原因（選填）",
    add_reason: "✍️ 補充原因",
    sent_from: "來自 {host}，目錄 {directory}",
    always_allow: "✅ 一律允許 {what}",
};

/// Fill `{name}` placeholders in `template` from `values`.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A wall-clock time as shown in chats: `2026-11-21 14:32:05 UTC`.
pub fn clock(at: std::time::SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} UTC", text.trim_end_matches('Z').replace('T', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(m: &Messages) -> Vec<(&'static str, &'static str)> {
        vec![
            ("approve", m.approve),
            ("reject", m.reject),
            ("asked_from", m.asked_from),
            ("session", m.session),
            ("answer_by", m.answer_by),
            ("truncated", m.truncated),
            ("approved_by", m.approved_by),
            ("rejected_by", m.rejected_by),
            ("chose_by", m.chose_by),
            ("reason", m.reason),
            ("note", m.note),
            ("toast_approved", m.toast_approved),
            ("toast_rejected", m.toast_rejected),
            ("toast_chosen", m.toast_chosen),
            ("not_allowed", m.not_allowed),
            ("expired", m.expired),
            ("moved", m.moved),
            ("reason_prompt", m.reason_prompt),
            ("reason_placeholder", m.reason_placeholder),
            ("timed_out", m.timed_out),
            ("escalated", m.escalated),
            ("cancelled", m.cancelled),
            ("answered_elsewhere", m.answered_elsewhere),
            ("at_the_terminal", m.at_the_terminal),
            ("web_all_requests", m.web_all_requests),
            ("web_feedback_label", m.web_feedback_label),
            ("web_feedback_hint", m.web_feedback_hint),
            ("web_feedback_placeholder", m.web_feedback_placeholder),
            ("web_time_left", m.web_time_left),
            ("web_time_up", m.web_time_up),
            ("web_waiting", m.web_waiting),
            ("web_session_title", m.web_session_title),
            ("web_no_requests", m.web_no_requests),
            ("web_not_open", m.web_not_open),
            ("web_not_found", m.web_not_found),
            ("web_cross_site", m.web_cross_site),
            ("web_peer_refused", m.web_peer_refused),
            ("web_bad_form", m.web_bad_form),
            ("reply_hint", m.reply_hint),
            ("reason_title", m.reason_title),
            ("reason_label", m.reason_label),
            ("add_reason", m.add_reason),
            ("sent_from", m.sent_from),
            ("always_allow", m.always_allow),
        ]
    }

    fn placeholders(s: &str) -> Vec<String> {
        let mut names: Vec<String> = s
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_locale_has_every_string_with_the_same_placeholders() {
        let english = all(Locale::En.messages());
        for locale in Locale::ALL {
            let strings = all(locale.messages());
            assert_eq!(strings.len(), english.len());
            for ((key, text), (_, en)) in strings.iter().zip(&english) {
                assert!(!text.trim().is_empty(), "{locale:?} has an empty {key}");
                assert_eq!(placeholders(text), placeholders(en), "{locale:?} {key}");
            }
        }
    }

    #[test]
    fn discord_modal_strings_fit_discords_limits() {
        for locale in Locale::ALL {
            let m = locale.messages();
            assert!(m.reason_title.chars().count() <= 45, "{locale:?}");
            assert!(m.reason_label.chars().count() <= 45, "{locale:?}");
            assert!(m.reason_placeholder.chars().count() <= 100, "{locale:?}");
            assert!(m.add_reason.chars().count() <= 80, "{locale:?}");
        }
    }

    #[test]
    fn locales_parse() {
        assert_eq!(Locale::parse("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("zh-TW"), Some(Locale::ZhTw));
        assert_eq!(Locale::parse("en"), Some(Locale::En));
        assert_eq!(Locale::parse("fr"), None);
    }

    #[test]
    fn fill_replaces_placeholders() {
        assert_eq!(
            fill("moved to {provider}.", &[("provider", "Discord")]),
            "moved to Discord."
        );
    }
}
