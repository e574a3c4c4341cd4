//! A small Chrome DevTools Protocol client: launch headless Chromium, open a tab, send commands,
//! wait for events.
//!
//! One WebSocket to the browser target, tabs attached in flat mode (commands carry their
//! `sessionId`). Events that arrive while waiting for a reply are kept, so none is missed.
//! When Chromium is missing, [`Chromium::launch`] prints `SKIPPED: chromium not installed`
//! and returns `None`, unless `OPENFEEDBACK_TEST_BROWSER=require`, which makes it fail.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for any one reply or event: a hang, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running headless Chromium, killed on drop.
pub struct Chromium {
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

/// One attached tab.
pub struct Tab {
    pub session: String,
}

impl Chromium {
    /// The browser binary: `OPENFEEDBACK_TEST_CHROMIUM`, else Debian's `/usr/bin/chromium`.
    pub fn binary() -> Option<PathBuf> {
        let path = std::env::var_os("OPENFEEDBACK_TEST_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        path.exists().then_some(path)
    }

    /// Launch the browser, or `None` (test skipped) when it is not installed.
    pub async fn launch() -> Option<Chromium> {
        let Some(binary) = Chromium::binary() else {
            let required = std::env::var("OPENFEEDBACK_TEST_BROWSER").is_ok_and(|v| v == "require");
            assert!(
                !required,
                "chromium is not installed, and OPENFEEDBACK_TEST_BROWSER=require"
            );
            println!("SKIPPED: chromium not installed");
            return None;
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = tokio::process::Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let find = async {
            let mut seen = String::new();
            while let Some(line) = lines.next_line().await.expect("read chromium's stderr") {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_owned();
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            panic!("chromium exited without a DevTools URL:\n{seen}");
        };
        let url = tokio::time::timeout(PATIENCE, find)
            .await
            .expect("chromium printed no DevTools URL");
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to DevTools");
        Some(Chromium {
            _child: child,
            _profile: profile,
            ws,
            next_id: 0,
            events: Vec::new(),
        })
    }

    /// A new tab, attached.
    pub async fn open_tab(&mut self) -> Tab {
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        Tab {
            session: attached["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    /// Send a command (to the browser, or to a tab) and return its result.
    pub async fn call(&mut self, tab: Option<&Tab>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(tab) = tab {
            message["sessionId"] = json!(tab.session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("send to DevTools");
        loop {
            let message = self.receive().await;
            if message["id"].as_u64() == Some(id) {
                assert!(
                    message.get("error").is_none(),
                    "{method} failed: {}",
                    message["error"]
                );
                return message["result"].clone();
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    /// Evaluate `expression` in the tab and return its value.
    pub async fn eval(&mut self, tab: &Tab, expression: &str) -> Value {
        let result = self
            .call(
                Some(tab),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Wait for the next event `method` of the tab (events seen earlier count, once).
    pub async fn event(&mut self, tab: &Tab, method: &str) -> Value {
        let ours = |e: &Value| e["method"] == method && e["sessionId"] == tab.session.as_str();
        if let Some(i) = self.events.iter().position(ours) {
            return self.events.remove(i)["params"].clone();
        }
        loop {
            let message = self.receive().await;
            if ours(&message) {
                return message["params"].clone();
            }
            if message.get("method").is_some() {
                self.events.push(message);
            }
        }
    }

    /// Every event `method` of the tab received so far (kept).
    pub fn seen(&self, tab: &Tab, method: &str) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e["method"] == method && e["sessionId"] == tab.session.as_str())
            .map(|e| e["params"].clone())
            .collect()
    }

    /// Navigate and wait until the page has loaded.
    pub async fn navigate(&mut self, tab: &Tab, url: &str) {
        self.events.retain(|e| e["method"] != "Page.loadEventFired");
        self.call(Some(tab), "Page.navigate", json!({"url": url}))
            .await;
        self.event(tab, "Page.loadEventFired").await;
    }

    /// A PNG screenshot of the tab's viewport.
    pub async fn screenshot(&mut self, tab: &Tab) -> Vec<u8> {
        let shot = self
            .call(
                Some(tab),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await;
        base64_decode(shot["data"].as_str().expect("screenshot data"))
    }

    /// The viewport-relative centre of the element `selector`, scrolled into view.
    pub async fn centre(&mut self, tab: &Tab, selector: &str) -> (f64, f64) {
        let doc = self.call(Some(tab), "DOM.getDocument", json!({})).await;
        let node = self
            .call(
                Some(tab),
                "DOM.querySelector",
                json!({"nodeId": doc["root"]["nodeId"], "selector": selector}),
            )
            .await["nodeId"]
            .clone();
        assert_ne!(node, json!(0), "no element matches {selector}");
        self.call(
            Some(tab),
            "DOM.scrollIntoViewIfNeeded",
            json!({"nodeId": node}),
        )
        .await;
        let model = self
            .call(Some(tab), "DOM.getBoxModel", json!({"nodeId": node}))
            .await;
        let quad: Vec<f64> = model["model"]["border"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        (
            f64::midpoint(quad[0], quad[4]),
            f64::midpoint(quad[1], quad[5]),
        )
    }

    /// A real left click (mouse down and up) at a viewport position: no page script involved.
    pub async fn click_at(&mut self, tab: &Tab, (x, y): (f64, f64)) {
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                Some(tab),
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await;
        }
    }

    async fn receive(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("DevTools went silent");
            match next.expect("DevTools closed").expect("DevTools error") {
                Message::Text(text) => return serde_json::from_str(&text).expect("CDP JSON"),
                Message::Close(_) => panic!("DevTools closed the connection"),
                _ => {}
            }
        }
    }
}

/// Standard base64 (with padding), as CDP sends binary data.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | u32::from(d) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Width and height of a PNG, after checking its signature and header chunk.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG (signature)"
    );
    assert_eq!(&png[12..16], b"IHDR", "not a PNG (first chunk)");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn base64_decodes_rfc4648_vectors() {
    assert_eq!(base64_decode("Zm9vYmFy"), b"foobar");
    assert_eq!(base64_decode("Zm9vYg=="), b"foob");
    assert_eq!(base64_decode("Zm9vYmE="), b"fooba");
    assert_eq!(base64_decode("+/8="), [0xfb, 0xff]);
}
