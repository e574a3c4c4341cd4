//! A tiny HTTP forward proxy for tests: it records each request line and relays plain-HTTP
//! requests (absolute-form URIs) to their origin, one request per connection.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(relay(stream, seen.clone()));
            }
        });
        Proxy { port, log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines seen, e.g. `POST http://127.0.0.1:1234/bot…/sendMessage HTTP/1.1`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn relay(stream: TcpStream, log: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let mut client = BufReader::new(stream);
    let mut line = String::new();
    client.read_line(&mut line).await?;
    log.lock().unwrap().push(line.trim_end().to_owned());
    let mut parts = line.split_whitespace();
    let (method, uri) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let rest = uri.strip_prefix("http://").unwrap_or(uri);
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        client.read_line(&mut header).await?;
        if header == "\r\n" || header.is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("proxy-") || lower.starts_with("connection:") {
            continue;
        }
        head.push_str(&header);
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut body = vec![0; length];
    client.read_exact(&mut body).await?;
    let mut upstream = TcpStream::connect(authority).await?;
    upstream.write_all(head.as_bytes()).await?;
    upstream.write_all(&body).await?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response).await?;
    let mut stream = client.into_inner();
    stream.write_all(&response).await?;
    stream.shutdown().await
}
