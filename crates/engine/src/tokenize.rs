//! Stage 1: text -> token ids, with the model's own `tokenizer.json`.
//!
//! Truncation and padding are set here explicitly rather than taken from the file: shipped
//! files often pad and truncate at 128 while the model was trained (and sentence-transformers
//! runs it) at another length. We truncate at the catalog's `max_tokens` and do not pad;
//! [`crate::tensors`] pads each batch to its own longest text.
//!
//! A text is tokenized in pieces cut where the tokenizer splits anyway ([`crate::pieces`]),
//! so memory stays bounded by a piece and the host can cancel between pieces; the windows of a
//! long text are produced as the pieces come ([`Windows`]).

use std::path::Path;

use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{EngineError, Result};
use crate::pieces::{all_cuts, Cuts};
use crate::reserve;

/// One tokenized text (or one window of one). Ids are u32 as the tokenizer gives them; they
/// widen to the model's int64 only in the batch's tensors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tokens {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    /// True when the text had more tokens than the limit and was cut.
    pub truncated: bool,
}

/// Bytes of text tokenized in one call in window mode: a few milliseconds of work, so a cancel
/// is seen within that, and the tokenizer's working memory for it stays around a megabyte.
pub const PIECE_BYTES: usize = 64 << 10;

pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, for the pieces of a text.
    whole: Tokenizer,
    /// The model's special tokens around a text ([CLS] and [SEP], <s> and </s>, UniXcoder's
    /// <s> <encoder-only> </s> and </s>, or none), in order.
    specials: Vec<u32>,
    /// How many of `specials` come before the text.
    head_len: usize,
    max_tokens: usize,
    /// Where this tokenizer's texts may be cut (checked when it is loaded).
    cuts: Cuts,
    /// The unknown token, which a long word becomes (when `cuts.long_words` is set).
    unk: u32,
}

impl TextTokenizer {
    pub fn from_file(model: &str, path: &Path, max_tokens: usize) -> Result<TextTokenizer> {
        crate::files::check_readable(model, path)?;
        // Never let the tokenizer start its own thread pool inside a host process that forks.
        tokenizers::utils::parallelism::set_parallelism(false);
        let mut inner = Tokenizer::from_file(path).map_err(|e| EngineError::ModelFileInvalid {
            model: model.to_string(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        inner.with_padding(None);
        let mut whole = inner.clone();
        whole.with_truncation(None).map_err(|e| EngineError::ModelFileInvalid {
            model: model.to_string(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let specials = inner.encode("", true).map(|e| e.get_ids().to_vec()).unwrap_or_default();
        let head_len = head_len_of(&inner, specials.len());
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
                stride: 0,
            }))
            .map_err(|e| EngineError::ModelFileInvalid {
                model: model.to_string(),
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let (cuts, unk) = checked_cuts(&whole);
        Ok(TextTokenizer { inner, whole, specials, head_len, max_tokens, cuts, unk })
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Where this tokenizer's texts are cut into pieces.
    pub fn cuts(&self) -> &Cuts {
        &self.cuts
    }

    /// The text's first `max_tokens` tokens (special tokens included), tokenized in pieces of
    /// about `piece_bytes` until the limit is passed, with `interrupt` called after each piece.
    /// The pieces' tokens go through the tokenizer's own truncation and post-processing, so
    /// the result is the one the tokenizer gives for the whole text.
    pub fn encode_truncated(&self, text: &str, piece_bytes: usize, interrupt: &mut dyn FnMut()) -> Result<Tokens> {
        let mut pieces = self.pieces(text, piece_bytes);
        let mut merged = Encoding::default();
        // One token more than fits without special tokens proves the text is over the limit.
        while merged.len() <= self.max_tokens {
            let Some(enc) = pieces.next(interrupt)? else { break };
            merged.merge_with(enc, true);
        }
        let enc = self.inner.post_process(merged, None, true).map_err(|e| EngineError::Tokenize(e.to_string()))?;
        Ok(Tokens {
            ids: reserve_copy(enc.get_ids())?,
            type_ids: reserve_copy(enc.get_type_ids())?,
            truncated: !enc.get_overflowing().is_empty(),
        })
    }

    /// The whole text as consecutive windows of at most `max_tokens` tokens, each wrapped in
    /// the model's special tokens, produced as the text is tokenized in pieces of about
    /// `piece_bytes` ([`PIECE_BYTES`] in production; see [`Windows`]).
    pub fn windows<'a>(&'a self, text: &'a str, piece_bytes: usize) -> Windows<'a> {
        let (head, tail) = self.head_tail();
        let room = self.max_tokens.saturating_sub(head.len() + tail.len()).max(1);
        Windows { pieces: self.pieces(text, piece_bytes), head, tail, room, pending: Vec::new(), emitted: 0, done: false }
    }

    /// The text's first `max_tokens` tokens, tokenizing the whole text in one call: unbounded
    /// in memory and time, so never used on user input; it is the reference the piecewise
    /// [`TextTokenizer::encode_truncated`] is tested against.
    pub fn encode(&self, text: &str) -> Result<Tokens> {
        let enc = self.inner.encode(text, true).map_err(|e| EngineError::Tokenize(e.to_string()))?;
        Ok(tokens_of(&enc, !enc.get_overflowing().is_empty()))
    }

    /// All windows of the text, tokenizing the whole text in one call (the reference for
    /// [`TextTokenizer::windows`], not for user input). Split here rather than with the
    /// tokenizer's own overflow, whose windows after the first are not usable.
    pub fn encode_windows(&self, text: &str) -> Result<Vec<Tokens>> {
        let body = self.whole.encode(text, false).map_err(|e| EngineError::Tokenize(e.to_string()))?;
        let (head, tail) = self.head_tail();
        let room = self.max_tokens.saturating_sub(head.len() + tail.len()).max(1);
        let ids = body.get_ids();
        let mut windows = Vec::new();
        for chunk in ids.chunks(room).chain(if ids.is_empty() { Some(&[][..]) } else { None }) {
            let all: Vec<u32> = head.iter().chain(chunk).chain(tail).copied().collect();
            windows.push(Tokens { type_ids: vec![0; all.len()], ids: all, truncated: false });
        }
        Ok(windows)
    }

    fn head_tail(&self) -> (&[u32], &[u32]) {
        self.specials.split_at(self.head_len)
    }

    fn pieces<'a>(&'a self, text: &'a str, piece_bytes: usize) -> Pieces<'a> {
        Pieces { tokenizer: self, text, start: 0, piece_bytes: piece_bytes.max(1), joins: false, last: None, offsets: false, joined_end: None }
    }

    /// How many tokens the model sees for `text` on its own, special tokens included, however
    /// long it is (tokenized in one call: for texts already known to be short, like chunks).
    pub fn count(&self, text: &str) -> Result<usize> {
        let enc = self.whole.encode_fast(text, false).map_err(|e| EngineError::Tokenize(e.to_string()))?;
        Ok(enc.len() + self.specials.len())
    }

    /// The special tokens put around a text, written as a catalog entry's `input_template`
    /// (`<s> <encoder-only> </s> $A </s>`).
    pub fn layout(&self) -> String {
        let (head, tail) = self.head_tail();
        let name = |id: &u32| self.inner.id_to_token(*id).unwrap_or_else(|| format!("[{id}]"));
        head.iter().map(name).chain(std::iter::once("$A".to_string())).chain(tail.iter().map(name)).collect::<Vec<_>>().join(" ")
    }

    /// How many special tokens the model puts around a text.
    pub fn special_count(&self) -> usize {
        self.specials.len()
    }

    /// Where each of the text's tokens (special tokens left out) lies in it, as byte ranges,
    /// produced piece by piece as the text is tokenized ([`Spans`]).
    pub fn spans<'a>(&'a self, text: &'a str, piece_bytes: usize) -> Spans<'a> {
        Spans { pieces: Pieces { offsets: true, ..self.pieces(text, piece_bytes) }, held: None }
    }
}

/// The byte ranges of a text's tokens, a piece at a time (see [`TextTokenizer::spans`]).
pub struct Spans<'a> {
    pieces: Pieces<'a>,
    /// The previous piece's last range, held back because a long word cut at the piece's end
    /// continues in the next piece (its one unknown token then covers both parts).
    held: Option<(usize, usize)>,
}

impl Spans<'_> {
    /// The ranges of the next piece's tokens (possibly none), or `None` at the end of the text.
    pub fn next(&mut self, interrupt: &mut dyn FnMut()) -> Result<Option<Vec<(usize, usize)>>> {
        let start = self.pieces.start;
        let joins = self.pieces.joins;
        let Some(enc) = self.pieces.next(interrupt)? else {
            return Ok(self.held.take().map(|h| vec![h]));
        };
        let mut out: Vec<(usize, usize)> = reserve::with_capacity(enc.len() + 1, "token offsets")?;
        let mut ranges = enc.get_offsets().iter().map(|&(a, b)| (start + a, start + b));
        if let Some(held) = self.held.take() {
            // A long word cut in two is one unknown token, from the first piece's start of the
            // word to the end of the copy dropped from the second piece.
            let end = if joins { self.pieces.joined_end.take().unwrap_or(held.1) } else { held.1 };
            out.push((held.0, end.max(held.1)));
        }
        out.extend(&mut ranges);
        self.held = out.pop();
        Ok(Some(out))
    }
}


/// A text being tokenized one piece at a time (without special tokens).
struct Pieces<'a> {
    tokenizer: &'a TextTokenizer,
    text: &'a str,
    start: usize,
    piece_bytes: usize,
    /// The previous piece ended inside a long word (see [`crate::pieces::Piece::joins`]).
    joins: bool,
    /// The previous piece's last token.
    last: Option<u32>,
    /// Whether the tokens' byte offsets are wanted (slower: the tokenizer tracks alignments).
    offsets: bool,
    /// With offsets: where the unknown token dropped at the start of the last piece ended (the
    /// end of the long word cut in two, as the tokenizer delimits words).
    joined_end: Option<usize>,
}

impl Pieces<'_> {
    /// The next piece's tokens, or `None` at the end of the text. `interrupt` is called after
    /// each piece, so a long text can be cancelled between two pieces.
    fn next(&mut self, interrupt: &mut dyn FnMut()) -> Result<Option<Encoding>> {
        if self.start >= self.text.len() {
            return Ok(None);
        }
        let t = self.tokenizer;
        let piece = t.cuts.next_piece(self.text, self.start, self.piece_bytes);
        let piece_text = &self.text[self.start..piece.end];
        let mut enc = if self.offsets { t.whole.encode(piece_text, false) } else { t.whole.encode_fast(piece_text, false) }
            .map_err(|e| EngineError::Tokenize(e.to_string()))?;
        if self.joins {
            if self.offsets {
                self.joined_end = enc.get_offsets().first().map(|o| self.start + o.1);
            }
            drop_joined_unknown(&mut enc, self.last, t.unk)?;
        }
        self.start = piece.end;
        self.joins = piece.joins;
        self.last = enc.get_ids().last().copied().or(self.last);
        interrupt();
        Ok(Some(enc))
    }
}

/// After a cut inside a long word both pieces hold the word's unknown token; the second copy
/// goes. Anything else means the tokenizer does not work as its check showed: an error rather
/// than a silently different embedding.
fn drop_joined_unknown(enc: &mut Encoding, last: Option<u32>, unk: u32) -> Result<()> {
    if last != Some(unk) || enc.get_ids().first() != Some(&unk) {
        return Err(EngineError::Tokenize("a long word cut in two did not give one unknown token on each side".into()));
    }
    enc.truncate(enc.len() - 1, 0, TruncationDirection::Left);
    enc.get_overflowing_mut().clear();
    Ok(())
}

/// The windows of one text, produced as the text is tokenized: only the token ids not yet in
/// a window are held (as u32), never the whole text's tokens.
pub struct Windows<'a> {
    pieces: Pieces<'a>,
    head: &'a [u32],
    tail: &'a [u32],
    room: usize,
    pending: Vec<u32>,
    emitted: usize,
    done: bool,
}

impl Windows<'_> {
    /// The next window, or `None` after the last. A text without tokens is one window of
    /// special tokens only. `interrupt` is called after each piece of text tokenized.
    pub fn next(&mut self, interrupt: &mut dyn FnMut()) -> Result<Option<Tokens>> {
        loop {
            if self.pending.len() >= self.room {
                return self.window(self.room).map(Some);
            }
            if self.done {
                if self.pending.is_empty() && self.emitted > 0 {
                    return Ok(None);
                }
                return self.window(self.pending.len()).map(Some);
            }
            match self.pieces.next(interrupt)? {
                Some(enc) => reserve::extend(&mut self.pending, enc.get_ids(), "token ids")?,
                None => self.done = true,
            }
        }
    }

    /// A window of the first `n` pending tokens.
    fn window(&mut self, n: usize) -> Result<Tokens> {
        let len = self.head.len() + n + self.tail.len();
        let mut ids = reserve::with_capacity(len, "token ids")?;
        ids.extend_from_slice(self.head);
        ids.extend(self.pending.drain(..n));
        ids.extend_from_slice(self.tail);
        self.emitted += 1;
        Ok(Tokens { type_ids: reserve::filled(len, 0, "token ids")?, ids, truncated: false })
    }
}

/// How many of a tokenizer's `n_specials` special tokens its post-processor puts before a text:
/// the special tokens in front of the first token of a probe text. All of them for a template
/// that puts none after; one (the usual [CLS] or <s>) if the probe tells nothing.
fn head_len_of(tokenizer: &Tokenizer, n_specials: usize) -> usize {
    let Ok(enc) = tokenizer.encode("a", true) else { return n_specials.min(1) };
    let mask = enc.get_special_tokens_mask();
    let head = mask.iter().take_while(|&&m| m == 1).count();
    if head == mask.len() {
        n_specials.min(1)
    } else {
        head.min(n_specials)
    }
}

fn reserve_copy(ids: &[u32]) -> Result<Vec<u32>> {
    let mut v = reserve::with_capacity(ids.len(), "token ids")?;
    v.extend_from_slice(ids);
    Ok(v)
}

/// Text that exercises every kind of cut: prose, code, SQL, CJK, emoji, accents (composed and
/// combining), odd whitespace, URLs and added tokens written out.
const PROBE: &str = "The planner's choice: an index scan (cost=0.42..8.44 rows=1) when   the table\tis large.\n\n\
fn main() { let x = vec![1, 2, 3]; println!(\"{x:?}\"); } // don't, won't, it'll\r\n\
SELECT id, body FROM docs WHERE body ILIKE '%café%' AND n >= 10;\n\
数据库索引。查询优化器，选择最佳计划！日本語のテキスト、한국어 텍스트（括号）「引用」\n\
Emoji 🎉🎉 naïve coöperate e\u{301}cole Straße İSTANBUL ½ x² \u{a0}nbsp\u{3000}wide\u{2003}em\n\
[MASK] [CLS]x[SEP] a[UNK]b <mask> <s>y</s> <unk> <pad> https://example.com/a_b-c?d=e&f=g#h \u{1F600}word\n\
x  <mask>  y [MASK]   z\t\t<s>  a  中 b  数据 c。 d 。e\u{3000}文字\n\
foo.bar(baz)->qux::Quux<T>[0]++ a+b*c/d%e^f|g&h~i a.b.c.d 3.14159e-10 ...!!! ??? x\u{0}y\u{7}z\n\
   leading and trailing   \n";

/// The kinds of cut this tokenizer allows, and the unknown token id (for long-word cuts).
///
/// A kind is used only if both hold: the tokenizer's configuration is of a family for which
/// the kind is sound by construction (BERT's normalizer and pre-tokenizer, byte-level BPE's
/// regex, SentencePiece's metaspace; see [`crate::pieces::Cuts`]), and [`PROBE`], cut at
/// every place the kind allows, gives the ids of the whole probe. A probe alone cannot prove
/// a cut safe (a vocabulary without the right merges hides a wrong cut), and a family alone
/// does not catch a configuration that behaves unexpectedly. A tokenizer of no known family
/// gets no cuts: its texts are tokenized whole, unbounded, as before pieces existed.
fn checked_cuts(whole: &Tokenizer) -> (Cuts, u32) {
    let Ok(config) = serde_json::to_value(whole) else { return (Cuts::none(), u32::MAX) };
    let family = Family::of(&config, whole);
    let added: Vec<String> = whole.get_added_tokens_decoder().values().map(|t| t.content.to_ascii_lowercase()).collect();
    let mut cuts = Cuts { whitespace: true, added, ..Cuts::none() };
    if !family.whitespace || !agrees(whole, &cuts, PROBE, u32::MAX) {
        return (Cuts::none(), u32::MAX);
    }
    // Each kind the family makes sound is kept if the probe still agrees with it added.
    type Enable = fn(&mut Cuts);
    let kinds: [(bool, Enable); 3] = [
        (family.inside_whitespace, |c| c.inside_whitespace = true),
        (family.punctuation, |c| c.punctuation = true),
        (family.ideographs, |c| c.ideographs = true),
    ];
    for (sound, enable) in kinds {
        let mut more = cuts.clone();
        enable(&mut more);
        if sound && agrees(whole, &more, PROBE, u32::MAX) {
            cuts = more;
        }
    }
    if let Some((max_chars, unk)) = wordpiece_word_limit(&config, whole) {
        let more = Cuts { long_words: max_chars, ..cuts.clone() };
        let probe = format!(
            "{PROBE} {long} {digits}é{long}.{long}\u{301}x {long}{ideo} end",
            long = "w".repeat(3 * max_chars),
            digits = "a1".repeat(max_chars),
            ideo = "中".repeat(3)
        );
        if agrees(whole, &more, &probe, unk) {
            return (more, unk);
        }
    }
    (cuts, u32::MAX)
}

/// Which kinds of cut a tokenizer's configuration makes sound.
struct Family {
    /// Pre-tokenizers that always end a pre-token before whitespace that follows a
    /// non-space (BERT, byte-level BPE's regex, metaspace, whitespace splitting), after a
    /// normalizer that works character by character (no stripping, no replacing of patterns).
    whitespace: bool,
    /// BERT drops whitespace, unless an added token swallows the spaces next to it.
    inside_whitespace: bool,
    /// BERT and byte-level BPE's regex start a pre-token at punctuation after a letter.
    punctuation: bool,
    /// BERT's normalizer puts spaces around CJK ideographs (byte-level BPE keeps a run of
    /// them as one pre-token, so there a cut would change the merges).
    ideographs: bool,
}

impl Family {
    fn of(config: &serde_json::Value, whole: &Tokenizer) -> Family {
        let pre = &config["pre_tokenizer"];
        let pre_type = pre["type"].as_str().unwrap_or("");
        let bert = pre_type == "BertPreTokenizer";
        let byte_level = pre_type == "ByteLevel" && pre["use_regex"].as_bool().unwrap_or(true);
        let normalizer = &config["normalizer"];
        let whitespace = char_by_char(normalizer)
            && (bert || byte_level || matches!(pre_type, "Metaspace" | "Whitespace" | "WhitespaceSplit"));
        let strips = whole.get_added_tokens_decoder().values().any(|t| t.lstrip || t.rstrip);
        let isolates_cjk =
            normalizer["type"] == "BertNormalizer" && normalizer["handle_chinese_chars"].as_bool().unwrap_or(true);
        Family {
            whitespace,
            inside_whitespace: whitespace && bert && !strips,
            punctuation: whitespace && (bert || byte_level),
            ideographs: whitespace && bert && isolates_cjk,
        }
    }
}

/// Is this normalizer (or sequence of them) one that maps characters one by one?
fn char_by_char(normalizer: &serde_json::Value) -> bool {
    match normalizer["type"].as_str() {
        None => normalizer.is_null(),
        Some("Sequence") => normalizer["normalizers"].as_array().is_some_and(|all| all.iter().all(char_by_char)),
        Some(kind) => matches!(kind, "BertNormalizer" | "NFC" | "NFD" | "NFKC" | "NFKD" | "Lowercase" | "StripAccents"),
    }
}

/// Does `text` give the same ids cut at every place `cuts` allows as in one call?
fn agrees(whole: &Tokenizer, cuts: &Cuts, text: &str, unk: u32) -> bool {
    let ids = |s: &str| whole.encode_fast(s, false).map(|e| e.get_ids().to_vec());
    let Ok(reference) = ids(text) else { return false };
    let mut joined: Vec<u32> = Vec::new();
    let (mut start, mut joins) = (0, false);
    for piece in all_cuts(cuts, text) {
        let Ok(mut part) = ids(&text[start..piece.end]) else { return false };
        if joins {
            if joined.last() != Some(&unk) || part.first() != Some(&unk) {
                return false;
            }
            part.remove(0);
        }
        joined.extend(part);
        (start, joins) = (piece.end, piece.joins);
    }
    joined == reference
}

/// For a WordPiece tokenizer with BERT's normalizer and pre-tokenizer, the word length past
/// which a word is one unknown token, and that token's id. Read from the tokenizer's own
/// configuration, since the model does not expose it. Added tokens made only of letters and
/// digits could sit inside a long word, so such a tokenizer gets no long-word cuts.
fn wordpiece_word_limit(config: &serde_json::Value, whole: &Tokenizer) -> Option<(usize, u32)> {
    let kind = |key: &str| config[key]["type"].as_str().map(str::to_string);
    if kind("model")?.as_str() != "WordPiece" || kind("pre_tokenizer")?.as_str() != "BertPreTokenizer" {
        return None;
    }
    if !matches!(kind("normalizer").as_deref(), None | Some("BertNormalizer")) {
        return None;
    }
    if whole.get_added_tokens_decoder().values().any(|t| t.content.chars().all(char::is_alphanumeric)) {
        return None;
    }
    let max_chars = usize::try_from(config["model"]["max_input_chars_per_word"].as_u64()?).ok()?;
    let unk = whole.token_to_id(config["model"]["unk_token"].as_str()?)?;
    (1..=1000).contains(&max_chars).then_some((max_chars, unk))
}

fn tokens_of(enc: &Encoding, truncated: bool) -> Tokens {
    Tokens { ids: enc.get_ids().to_vec(), type_ids: enc.get_type_ids().to_vec(), truncated }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub fn prefix(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    /// A byte-level BPE tokenizer like RoBERTa's (codebert-base, unixcoder-base): every byte a
    /// token, a few merges, spaces glued to the next word, and runs of spaces merged.
    fn byte_level_bpe() -> Tokenizer {
        bpe_with(serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}))
    }

    fn bpe_with(pre_tokenizer: serde_json::Value) -> Tokenizer {
        let mut vocab: Vec<String> = ByteLevel::alphabet().into_iter().map(String::from).collect();
        vocab.sort();
        let merges: Vec<(String, String)> = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "Ġ"), ("ĠĠ", "Ġ"), ("i", "n"), ("Ġ", "a")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        for (a, b) in &merges {
            vocab.push(format!("{a}{b}"));
        }
        let ids: serde_json::Map<String, serde_json::Value> = vocab.into_iter().enumerate().map(|(i, t)| (t, i.into())).collect();
        let config = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": null, "decoder": null,
            "model": {"type": "BPE", "vocab": ids, "merges": merges},
        });
        config.to_string().parse().unwrap()
    }

    /// UniXcoder's encoder-only layout: three special tokens before the text, one after.
    #[test]
    fn a_template_with_a_mode_token_wraps_every_window() {
        let mut config: serde_json::Value = byte_level_bpe().to_string(false).unwrap().parse().unwrap();
        let n = config["model"]["vocab"].as_object().unwrap().len() as u32;
        let (s, mode, end) = (n, n + 1, n + 2);
        config["added_tokens"] = serde_json::json!([
            {"id": s, "content": "<s>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
            {"id": mode, "content": "<encoder-only>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
            {"id": end, "content": "</s>", "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false},
        ]);
        config["post_processor"] = serde_json::json!({
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"SpecialToken": {"id": "<encoder-only>", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [s], "tokens": ["<s>"]},
                "<encoder-only>": {"id": "<encoder-only>", "ids": [mode], "tokens": ["<encoder-only>"]},
                "</s>": {"id": "</s>", "ids": [end], "tokens": ["</s>"]},
            },
        });
        let path = std::env::temp_dir().join(format!("pg_embed-template-{}.json", std::process::id()));
        std::fs::write(&path, config.to_string()).unwrap();
        let tok = TextTokenizer::from_file("t", &path, 16).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(tok.head_tail(), (&[s, mode, end][..], &[end][..]));
        assert_eq!(tok.layout(), "<s> <encoder-only> </s> $A </s>");
        assert_eq!(tok.special_count(), 4);
        let text = "the thin cat in the hat ".repeat(10);
        let expected = tok.encode_windows(&text).unwrap();
        assert!(expected.len() > 2);
        let mut windows = tok.windows(&text, 7);
        let mut got = Vec::new();
        while let Some(w) = windows.next(&mut || {}).unwrap() {
            assert_eq!(&w.ids[..3], &[s, mode, end]);
            assert_eq!(w.ids.last(), Some(&end));
            assert!(w.ids.len() <= 16);
            got.push(w.ids);
        }
        assert_eq!(got, expected.into_iter().map(|w| w.ids).collect::<Vec<_>>());
        let first = tok.encode_truncated(&text, 7, &mut || {}).unwrap();
        assert_eq!(first.ids, tok.encode(&text).unwrap().ids);
        assert_eq!((first.ids.len(), &first.ids[..3], first.ids.last()), (16, &[s, mode, end][..], Some(&end)));
        assert!(first.truncated);
    }

    #[test]
    fn byte_level_bpe_is_cut_only_where_it_splits() {
        let tok = byte_level_bpe();
        let (cuts, _) = checked_cuts(&tok);
        assert!(cuts.whitespace && cuts.punctuation, "{cuts:?}");
        assert!(!cuts.inside_whitespace, "runs of spaces are tokens of their own");
        assert_eq!(cuts.long_words, 0, "BPE has no word length past which a word is one token");
        let text = "the   thin  cat.in\tthe hat,\n\n  then   ".repeat(50) + "数据库。索引 " + &"inthe".repeat(40);
        for piece in all_cuts(&cuts, &text) {
            let (a, b) = text.split_at(piece.end);
            let ids = |s: &str| tok.encode_fast(s, false).unwrap().get_ids().to_vec();
            let mut both = ids(a);
            both.extend(ids(b));
            assert_eq!(both, ids(&text), "cut at {}: {:?} | {:?}", piece.end, a.chars().rev().take(10).collect::<String>(), b.chars().take(10).collect::<String>());
        }
        assert!(agrees(&tok, &cuts, &text, u32::MAX));
        assert!(!agrees(&tok, &Cuts { inside_whitespace: true, ..cuts.clone() }, &text, u32::MAX));
        assert!(!agrees(&tok, &Cuts { ideographs: true, ..cuts.clone() }, &text, u32::MAX));
    }

    #[test]
    fn a_tokenizer_of_unknown_family_is_never_cut() {
        // Byte-level BPE without its regex: a whole text is one pre-token.
        let no_regex = bpe_with(serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}));
        assert_eq!(checked_cuts(&no_regex).0, Cuts::none());
        assert_eq!(checked_cuts(&bpe_with(serde_json::Value::Null)).0, Cuts::none());
    }

    #[test]
    fn prefix_cuts_on_character_boundaries() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("🎉🎉", 5), "🎉");
    }
}
