use super::*;

fn parse(text: &str) -> Result<Settings, ConfigError> {
    Settings::parse(Some(Path::new("/cfg/config.toml")), text, &|_| None)
}

fn parse_env(text: &str, token: &str) -> Result<Settings, ConfigError> {
    let token = token.to_owned();
    Settings::parse(Some(Path::new("/cfg/config.toml")), text, &move |name| {
        (name == TELEGRAM_TOKEN_ENV).then(|| token.clone())
    })
}

const V03: &str = r#"default_provider = "telegram"
default_timeout = 3600
reject_feedback_timeout = 60
locale = "en"

[telegram]
bot_token = "123:abc"
chat_id = 42
trusted_user_ids = []

[logging]
# audit_file = "~/.local/share/openfeedback/audit.jsonl"
"#;

#[test]
fn a_v03_config_loads_and_plans() {
    let settings = parse(V03).unwrap();
    let plan = settings.plan(None, None).unwrap();
    assert_eq!(plan.chain, vec![ProviderName::Telegram]);
    assert_eq!(plan.timeout, Duration::from_secs(3600));
    let tg = plan.telegram.unwrap();
    assert_eq!(tg.chat_id, 42);
    // An empty list in a private chat means the chat's owner.
    assert_eq!(tg.trusted, TrustedUsers::Only(vec![42]));
    assert_eq!(tg.api_base, TELEGRAM_API_BASE);
}

#[test]
fn unknown_keys_name_the_key_and_line() {
    let err = parse("default_provider = \"telegram\"\ntimeout = 5\n")
        .err()
        .unwrap();
    assert_eq!(err.line, Some(2));
    assert!(
        err.message.contains("unknown field `timeout`"),
        "{}",
        err.message
    );
    assert!(
        err.to_string()
            .starts_with("config error in /cfg/config.toml:2"),
        "{err}"
    );
}

#[test]
fn wrong_types_name_the_line() {
    let err = parse("default_timeout = \"soon\"\n").err().unwrap();
    assert_eq!(err.line, Some(1));
}

#[test]
fn chat_id_zero_is_refused_with_its_line() {
    let err = parse(&V03.replace("chat_id = 42", "chat_id = 0"))
        .unwrap()
        .plan(None, None)
        .err()
        .unwrap();
    assert_eq!(err.key.as_deref(), Some("telegram.chat_id"));
    assert_eq!(err.line, Some(8));
}

#[test]
fn a_group_without_trusted_users_is_refused_unless_opted_in() {
    let group = V03.replace("chat_id = 42", "chat_id = -100123");
    let err = parse(&group).unwrap().plan(None, None).err().unwrap();
    assert_eq!(err.key.as_deref(), Some("telegram.trusted_user_ids"));
    let opted = group.replace(
        "trusted_user_ids = []",
        "trusted_user_ids = []\nallow_any_member = true",
    );
    let plan = parse(&opted).unwrap().plan(None, None).unwrap();
    assert_eq!(plan.telegram.unwrap().trusted, TrustedUsers::Anyone);
}

#[test]
fn bad_locale_names_the_line() {
    let err = parse(&V03.replace("locale = \"en\"", "locale = \"fr\""))
        .err()
        .unwrap();
    assert_eq!((err.key.as_deref(), err.line), (Some("locale"), Some(4)));
}

#[test]
fn missing_section_for_the_chosen_provider() {
    let err = parse("default_provider = \"discord\"\n")
        .unwrap()
        .plan(None, None)
        .err()
        .unwrap();
    assert_eq!(err.key.as_deref(), Some("discord"));
    assert!(err.message.contains("[discord] section is missing"));
}

#[test]
fn the_token_can_come_from_the_environment() {
    let text = V03.replace("bot_token = \"123:abc\"\n", "");
    assert!(parse(&text).unwrap().plan(None, None).is_err());
    let plan = parse_env(&text, "999:zzz")
        .unwrap()
        .plan(None, None)
        .unwrap();
    assert_eq!(plan.telegram.unwrap().token.expose(), "999:zzz");
}

#[test]
fn the_template_placeholder_is_refused() {
    let err = parse(&V03.replace("123:abc", "YOUR_BOT_TOKEN"))
        .unwrap()
        .plan(None, None)
        .err()
        .unwrap();
    assert!(err.message.contains("placeholder"));
}

#[test]
fn escalation_is_checked_against_the_effective_timeout() {
    let text = V03.replace(
        "locale = \"en\"",
        "locale = \"en\"\nfailover_provider = \"web\"\nescalate_after_secs = 1800",
    );
    let settings = parse(&text).unwrap();
    assert!(settings.plan(None, None).is_ok());
    let err = settings
        .plan(None, Some(Duration::from_secs(600)))
        .err()
        .unwrap();
    assert_eq!(err.key.as_deref(), Some("escalate_after_secs"));
    assert!(err.message.contains("600s"), "{}", err.message);
    // --provider means that provider alone: no escalation to check.
    assert!(
        settings
            .plan(Some(ProviderName::Telegram), Some(Duration::from_secs(600)))
            .is_ok()
    );
}

#[test]
fn discord_ids_accept_strings_and_old_integers() {
    let text = "default_provider = \"discord\"\n[discord]\nbot_token = \"t0ken-xyz\"\napplication_id = 1234567890123456789\nchannel_id = \"1111111111111111111\"\ntrusted_user_ids = [\"999999999999999999\", 18446744073709551615]\n";
    let plan = parse(text).unwrap().plan(None, None).unwrap();
    let dc = plan.discord.unwrap();
    assert_eq!(dc.application_id, Snowflake("1234567890123456789".into()));
    assert_eq!(
        dc.trusted,
        TrustedUsers::Only(vec![
            Snowflake("999999999999999999".into()),
            Snowflake("18446744073709551615".into())
        ])
    );
}

#[test]
fn no_file_means_the_local_page() {
    let settings = Settings::parse(None, "", &|_| None).unwrap();
    assert_eq!(settings.default_provider, ProviderName::Web);
}

#[test]
fn tilde_in_the_audit_path_is_expanded() {
    let settings = parse("[logging]\naudit_file = \"~/audit.jsonl\"\n").unwrap();
    let home = dirs::home_dir().unwrap();
    assert_eq!(settings.audit_file, Some(home.join("audit.jsonl")));
}

#[test]
fn hook_fallbacks_default_to_ask_and_never_allow() {
    let settings = parse(V03).unwrap();
    assert_eq!(settings.hook, HookSettings::default());
    assert_eq!(settings.hook.on_timeout, HookFallback::Ask);

    let text = format!("{V03}\n[hook]\non_timeout = \"deny\"\non_error = \"ask\"\n");
    let settings = parse(&text).unwrap();
    assert_eq!(settings.hook.on_timeout, HookFallback::Deny);
    assert_eq!(settings.hook.on_error, HookFallback::Ask);

    let text = format!("{V03}\n[hook]\non_timeout = \"allow\"\n");
    let err = parse(&text).err().unwrap();
    assert_eq!(err.key.as_deref(), Some("hook.on_timeout"));
    assert!(err.message.contains("never allows"), "{}", err.message);
    let text = format!("{V03}\n[hook]\non_error = \"maybe\"\n");
    let err = parse(&text).err().unwrap();
    assert_eq!(err.key.as_deref(), Some("hook.on_error"));
}

#[test]
fn topic_per_session_is_off_unless_asked_for() {
    let plan = |text: &str| {
        parse(text)
            .unwrap()
            .plan(None, None)
            .unwrap()
            .telegram
            .unwrap()
    };
    assert!(!plan(V03).topic_per_session);
    let forum = V03.replace(
        "trusted_user_ids = []",
        "trusted_user_ids = []\ntopic_per_session = true",
    );
    assert!(plan(&forum).topic_per_session);
    let typo = V03.replace(
        "trusted_user_ids = []",
        "trusted_user_ids = []\ntopics_per_session = true",
    );
    let error = parse(&typo).err().unwrap().to_string();
    assert!(error.contains("topics_per_session"), "{error}");
}
