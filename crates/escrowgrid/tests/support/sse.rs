//! A small Server-Sent Events reader over any HTTP body (the router's `oneshot` body or a
//! hyper client's), for the live stream tests. Every wait has a deadline.

#![allow(dead_code, reason = "each test binary uses a part of it")]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;

/// One SSE frame: an event (`id`, `event`, `data`) or a comment (heartbeat).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub comment: Option<String>,
}

impl Frame {
    /// The `data:` as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("data {:?}: {e}", self.data))
    }

    /// The payload's stable event id.
    pub fn event_id(&self) -> String {
        self.json()["id"].as_str().expect("payload id").to_owned()
    }

    /// The cursor (`id:`).
    pub fn cursor(&self) -> &str {
        self.id.as_deref().expect("an id: line")
    }
}

/// Reads frames from a streaming body.
pub struct SseReader<B> {
    body: B,
    buffer: String,
    ended: bool,
}

impl<B> SseReader<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    pub fn new(body: B) -> Self {
        Self {
            body,
            buffer: String::new(),
            ended: false,
        }
    }

    /// The next frame, or `None` once the stream ended; panics after `within`.
    pub async fn next_frame(&mut self, within: Duration) -> Option<Frame> {
        tokio::time::timeout(within, self.read_frame())
            .await
            .unwrap_or_else(|_| panic!("no SSE frame within {within:?}"))
    }

    /// The next event (comments skipped); panics if the stream ends or `within` passes.
    pub async fn next_event(&mut self, within: Duration) -> Frame {
        tokio::time::timeout(within, async {
            loop {
                match self.read_frame().await {
                    Some(frame) if frame.comment.is_none() => return frame,
                    Some(_) => {}
                    None => panic!("the stream ended while an event was expected"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no SSE event within {within:?}"))
    }

    /// `n` events in a row.
    pub async fn events(&mut self, n: usize, within: Duration) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            frames.push(self.next_event(within).await);
        }
        frames
    }

    /// Every event until the stream ends; panics if it does not end within `within`.
    pub async fn until_end(&mut self, within: Duration) -> Vec<Frame> {
        tokio::time::timeout(within, async {
            let mut frames = Vec::new();
            while let Some(frame) = self.read_frame().await {
                if frame.comment.is_none() {
                    frames.push(frame);
                }
            }
            frames
        })
        .await
        .unwrap_or_else(|_| panic!("the stream did not end within {within:?}"))
    }

    async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&raw));
            }
            if self.ended {
                return None;
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                Some(Err(err)) => panic!("stream body error: {err:?}"),
                None => self.ended = true,
            }
        }
    }
}

fn parse(raw: &str) -> Frame {
    let mut frame = Frame::default();
    let mut data = Vec::new();
    for line in raw.lines().filter(|l| !l.is_empty()) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => frame.comment = Some(value.to_owned()),
            "id" => frame.id = Some(value.to_owned()),
            "event" => frame.event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            _ => {}
        }
    }
    frame.data = data.join("\n");
    frame
}
