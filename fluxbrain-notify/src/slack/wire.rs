//! Slack wire types: Block Kit blocks, `chat.postMessage` / `chat.update` bodies and the Web
//! API's answer. Shapes only; the notifier's message builder fills them.

use serde::{Deserialize, Serialize};

/// Slack's limits on what a message may hold (Block Kit reference).
pub mod limits {
    /// Characters in a `header` block's text.
    pub const HEADER: usize = 150;
    /// Characters in a `section` block's text.
    pub const SECTION: usize = 3000;
    /// Characters in one `section` field.
    pub const FIELD: usize = 2000;
    /// Fields in one `section`.
    pub const FIELDS: usize = 10;
    /// Elements in one `context` block.
    pub const CONTEXT_ELEMENTS: usize = 10;
    /// Blocks in one message.
    pub const BLOCKS: usize = 50;
    /// Characters of the top-level `text` fluxbrain sends (Slack truncates past 40 000 and
    /// advises staying under 4 000).
    pub const TEXT: usize = 3000;
}

/// One Block Kit layout block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Large bold plain text.
    Header {
        /// Plain text, at most [`limits::HEADER`] characters.
        text: Text,
    },
    /// Text, or up to ten two-column fields.
    Section {
        /// At most [`limits::SECTION`] characters.
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<Text>,
        /// At most [`limits::FIELDS`], each at most [`limits::FIELD`] characters.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<Text>,
    },
    /// Small grey text.
    Context {
        /// At most [`limits::CONTEXT_ELEMENTS`].
        elements: Vec<Text>,
    },
    /// A horizontal rule.
    Divider {},
}

/// A text object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Text {
    /// Shown as is; `:emoji:` codes rendered.
    PlainText {
        /// The text.
        text: String,
        /// Render `:emoji:` codes.
        emoji: bool,
    },
    /// Slack's markdown; `&`, `<`, `>` must be escaped.
    Mrkdwn {
        /// The text.
        text: String,
    },
}

/// The body of `chat.postMessage`, or of an incoming webhook (which ignores `channel` and
/// `thread_ts`, so they are left out there).
#[derive(Debug, Serialize)]
pub struct PostMessage<'a> {
    /// Channel id or name (bot token only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    /// The thread to reply in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<&'a str>,
    /// Fallback text for notifications and screen readers.
    pub text: &'a str,
    /// The message.
    pub blocks: &'a [Block],
    /// Facts may quote URLs; previews would only add noise.
    pub unfurl_links: bool,
    /// Same for media.
    pub unfurl_media: bool,
}

/// The body of `chat.update`.
#[derive(Debug, Serialize)]
pub struct UpdateMessage<'a> {
    /// The channel id the message is in.
    pub channel: &'a str,
    /// The message's `ts`.
    pub ts: &'a str,
    /// New fallback text.
    pub text: &'a str,
    /// New blocks.
    pub blocks: &'a [Block],
}

/// What the Web API answers (HTTP 200 even for most failures).
#[derive(Debug, Deserialize)]
pub struct ApiAnswer {
    /// Whether the call succeeded.
    pub ok: bool,
    /// The error code when it did not.
    #[serde(default)]
    pub error: Option<String>,
    /// The channel id of the message.
    #[serde(default)]
    pub channel: Option<String>,
    /// The message's timestamp id.
    #[serde(default)]
    pub ts: Option<String>,
}
