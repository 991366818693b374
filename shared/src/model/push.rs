//! How often a drop's watchers are pushed its numbers, and how far a push has gone.
//!
//! A drop's items sit on several stream shards, and Lambda runs each shard's batches separately:
//! left alone, every shard's batch would push its own `drop` message. One item per drop
//! (`PushState`) decides instead: the first fan-out of a window wins it with a conditional write
//! and pushes; the others mark a push as owed, and the owed push goes out when the window ends.
//! So watchers get at most one `drop` message per drop per window, and always the last numbers.

use serde::{Deserialize, Serialize};

/// A drop's push state, as stored (times in Unix milliseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushState {
    /// When the current window's message was composed.
    pub pushed_at: i64,
    /// The current window's message.
    pub message_id: String,
    /// A change came after the current window's message and is not pushed yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owed_since: Option<i64>,
    /// A fan-out ran out of time pushing `message_id`: the next one carries on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<String>,
}

/// Whether a fan-out may push a drop's message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushWindow {
    /// A new window, for this message: nobody has it yet.
    Taken,
    /// This message already held the window: a retry, which goes on from its progress.
    Retaken,
    /// Another message holds the window.
    Held,
}

/// What a fan-out does when the drop's push state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPush {
    /// Carry on with this message's stripes (a handoff).
    Resume(String),
    /// The window has ended and a push is owed: push now.
    Owed,
    /// A push is owed but the window runs until then (Unix ms): come back later.
    Wait(i64),
    Nothing,
}

impl PushState {
    pub fn next(&self, now_ms: i64, window_ms: i64) -> NextPush {
        match (&self.handoff, self.owed_since) {
            (Some(message_id), _) if *message_id == self.message_id => {
                NextPush::Resume(message_id.clone())
            }
            (_, Some(_)) if now_ms >= self.pushed_at + window_ms => NextPush::Owed,
            (_, Some(_)) => NextPush::Wait(self.pushed_at + window_ms),
            _ => NextPush::Nothing,
        }
    }
}

/// How far the push of one message went through one stripe of watchers, which are walked in
/// connection-id order: everything up to `after` was posted, except `missed` (posts that failed
/// and must be tried again). A retry reads it and posts only to the rest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StripeProgress {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default)]
    pub missed: Vec<String>,
    #[serde(default)]
    pub done: bool,
}

impl StripeProgress {
    /// Where the push of `message_id` stands, given what was stored (progress of another
    /// message means this one has not started).
    pub fn of(stored: Option<StripeProgress>, message_id: &str) -> Self {
        stored
            .filter(|progress| progress.message_id == message_id)
            .unwrap_or_else(|| StripeProgress {
                message_id: message_id.to_string(),
                ..Default::default()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(owed: Option<i64>, handoff: Option<&str>) -> PushState {
        PushState {
            pushed_at: 1_000,
            message_id: "m1".into(),
            owed_since: owed,
            handoff: handoff.map(str::to_string),
        }
    }

    #[test]
    fn an_owed_push_waits_for_the_end_of_the_window_and_a_handoff_comes_first() {
        assert_eq!(state(None, None).next(5_000, 30_000), NextPush::Nothing);
        assert_eq!(
            state(Some(2_000), None).next(5_000, 30_000),
            NextPush::Wait(31_000)
        );
        assert_eq!(
            state(Some(2_000), None).next(31_000, 30_000),
            NextPush::Owed
        );
        assert_eq!(
            state(Some(2_000), Some("m1")).next(31_000, 30_000),
            NextPush::Resume("m1".into())
        );
        // A handoff of an older message is stale: that message's window is over.
        assert_eq!(
            state(None, Some("m0")).next(2_000, 30_000),
            NextPush::Nothing
        );
    }

    #[test]
    fn progress_of_another_message_starts_the_stripe_over() {
        let stored = StripeProgress {
            message_id: "m0".into(),
            after: Some("c9".into()),
            missed: vec!["c3".into()],
            done: true,
        };
        assert_eq!(
            StripeProgress::of(Some(stored.clone()), "m1"),
            StripeProgress {
                message_id: "m1".into(),
                ..Default::default()
            }
        );
        assert_eq!(StripeProgress::of(Some(stored.clone()), "m0"), stored);
    }
}
