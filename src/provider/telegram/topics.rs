//! One forum topic per session (`topic_per_session = true`): the topic named after the
//! session label is created on demand with `createForumTopic` and reused by every process
//! with the same label.
//!
//! The label → thread id map is a small JSON file next to the relay's socket (per bot, keyed
//! by chat), so it survives the process but not a reboot. Creating a topic happens under an
//! exclusive lock on that file's lock file, so two processes with one label never create two
//! topics. Within a process, a mutex serialises the same work and a cache skips the file.
//! If a topic cannot be created (not a forum, no right to manage topics) the caller posts
//! where it would have without the option, and the reason is logged once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::api::{Api, ApiError};
use crate::relay::{Place, place};

/// Telegram's limit on a topic name.
const NAME_LIMIT: usize = 128;
const PATIENCE: Duration = Duration::from_secs(15);

pub struct Topics {
    chat_id: i64,
    /// The map file and its lock, when there is a runtime directory.
    files: Option<(PathBuf, PathBuf)>,
    known: tokio::sync::Mutex<HashMap<String, i64>>,
    warned: AtomicBool,
}

impl Topics {
    pub fn new(place: Option<&Place>, chat_id: i64) -> Topics {
        Topics {
            chat_id,
            files: place.map(|p| (p.file("topics"), p.file("topics.lock"))),
            known: tokio::sync::Mutex::default(),
            warned: AtomicBool::new(false),
        }
    }

    /// The thread id of the topic for `label`, created if need be; `None` if that failed.
    pub async fn thread(&self, api: &Api, label: &str) -> Option<i64> {
        let mut known = self.known.lock().await;
        if let Some(&thread) = known.get(label) {
            return Some(thread);
        }
        let _lock = self.lock().await;
        if let Some(thread) = self.read().get(label).copied() {
            known.insert(label.to_owned(), thread);
            return Some(thread);
        }
        let name: String = label.chars().take(NAME_LIMIT).collect();
        let params = json!({"chat_id": self.chat_id, "name": name});
        let until = Instant::now() + PATIENCE;
        let created = api
            .call_until::<Value>("createForumTopic", &params, until, &mut |_| {})
            .await
            .and_then(|topic| {
                topic
                    .get("message_thread_id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ApiError::Transient("createForumTopic gave no thread id".into()))
            });
        match created {
            Ok(thread) => {
                known.insert(label.to_owned(), thread);
                self.write(|map| {
                    map.insert(label.to_owned(), thread);
                });
                Some(thread)
            }
            Err(error) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    crate::log::warn(&format!(
                        "telegram: topic_per_session is on, but the topic {name:?} could not be \
                         created ({}); posting to the chat instead. The chat must be a forum \
                         and the bot an administrator that may manage topics.",
                        error.describe()
                    ));
                }
                None
            }
        }
    }

    /// Forget the topic of `label` if it is still `stale` (it was deleted); true if it was.
    pub async fn forget(&self, label: &str, stale: i64) -> bool {
        let mut known = self.known.lock().await;
        let _lock = self.lock().await;
        let was = known.get(label) == Some(&stale) || self.read().get(label) == Some(&stale);
        known.remove(label);
        self.write(|map| {
            if map.get(label) == Some(&stale) {
                map.remove(label);
            }
        });
        was
    }

    async fn lock(&self) -> Option<std::fs::File> {
        let (_, lock) = self.files.as_ref()?;
        place::lock_within(lock, PATIENCE).await
    }

    /// This chat's labels → thread ids, from the file.
    fn read(&self) -> HashMap<String, i64> {
        let Some((file, _)) = &self.files else {
            return HashMap::new();
        };
        std::fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|all| serde_json::from_value(all.get(self.chat_id.to_string())?.clone()).ok())
            .unwrap_or_default()
    }

    /// Change this chat's map in the file (call with the lock held).
    fn write(&self, change: impl FnOnce(&mut HashMap<String, i64>)) {
        let Some((file, _)) = &self.files else {
            return;
        };
        let mut all = std::fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let mut map = self.read();
        change(&mut map);
        all[self.chat_id.to_string()] = json!(map);
        let text = serde_json::to_vec_pretty(&all).expect("a map serializes");
        if let Err(e) = crate::paths::write_private(file, &text) {
            crate::log::warn(&format!(
                "telegram: cannot remember forum topics in {}: {e}",
                file.display()
            ));
        }
    }
}
