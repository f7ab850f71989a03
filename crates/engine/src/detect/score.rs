//! The text-level features and the weights that turn them into `code_score`.

/// The text-level features that the score weighs, each a share of the lines outside Markdown
/// fences unless said otherwise.
#[derive(Debug, Clone, Copy)]
pub(super) struct Features {
    /// Lines classified as code.
    pub(super) code: f32,
    /// Lines classified as prose.
    pub(super) prose: f32,
    /// Lines ending with `;`, `{` or `}`.
    pub(super) ends_code: f32,
    /// Share of words that are English function words, scaled down below 30 words.
    pub(super) stop: f32,
    /// Code symbols per letter-or-symbol.
    pub(super) density: f32,
    /// Documentation markup lines and fences (capped at 1).
    pub(super) markup: f32,
    /// `//` and `/* */` comment lines.
    pub(super) comment: f32,
    /// Docstring, POD and here-document lines.
    pub(super) embedded: f32,
    /// Operators per line (capped at 2).
    pub(super) ops: f32,
}

impl Features {
    pub(super) fn z(&self) -> f32 {
        BIAS + WEIGHTS.code * self.code
            + WEIGHTS.prose * self.prose
            + WEIGHTS.ends_code * self.ends_code
            + WEIGHTS.stop * self.stop
            + WEIGHTS.density * self.density
            + WEIGHTS.markup * self.markup
            + WEIGHTS.comment * self.comment
            + WEIGHTS.embedded * self.embedded
            + WEIGHTS.ops * self.ops
    }

    pub(super) fn to_vec(self) -> Vec<(&'static str, f32)> {
        vec![
            ("code", self.code),
            ("prose", self.prose),
            ("ends_code", self.ends_code),
            ("stop", self.stop),
            ("density", self.density),
            ("markup", self.markup),
            ("comment", self.comment),
            ("embedded", self.embedded),
            ("ops", self.ops),
        ]
    }
}

const BIAS: f32 = -1.3;
const WEIGHTS: Features = Features {
    code: 5.7,
    prose: -4.0,
    ends_code: 1.6,
    stop: -1.3,
    density: 0.7,
    markup: -2.5,
    comment: 1.5,
    embedded: 1.2,
    ops: 0.4,
};
