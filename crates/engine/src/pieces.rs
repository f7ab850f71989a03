//! Stage 1a: where a long text may be cut so that it can be tokenized one piece at a time.
//!
//! Tokenizing a whole text at once holds the tokenizer's working copies of all of it (the
//! normalized string with an alignment per byte, then a string, offsets and ids per token:
//! hundreds of bytes per token), and it cannot be interrupted. Cut where the tokenizer splits
//! anyway, a text gives the same token ids piece by piece as in one call, so memory is bounded
//! by the piece and the host can check for cancellation between pieces.
//!
//! Where a tokenizer splits depends on its configuration, so the kinds of cut are switched on
//! per tokenizer ([`Cuts`]) after [`crate::tokenize`] has checked each kind on a probe text
//! against the whole-text tokenization. A cut never falls inside or next to an added token
//! (`[MASK]`, `<mask>`), which the tokenizer matches before anything else.

/// The kinds of cut a tokenizer has been checked to allow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cuts {
    /// Before a whitespace character that follows a non-whitespace one (the whole run of
    /// whitespace goes to the next piece, so byte-level BPE, which glues a space to the word
    /// after it, and runs of spaces tokenize as in the whole text).
    pub whitespace: bool,
    /// Between two whitespace characters: a tokenizer that drops whitespace (BERT's) lets a run
    /// of it be cut anywhere, so megabytes of spaces are not one piece. Byte-level BPE makes
    /// tokens of space runs and does not allow it.
    pub inside_whitespace: bool,
    /// Before an ASCII or CJK punctuation mark that follows an ASCII letter or digit or a CJK
    /// ideograph: BERT and byte-level BPE both start a new pre-token there. Minified code, URLs
    /// and CJK prose have few spaces but many of these.
    pub punctuation: bool,
    /// Before a CJK ideograph: BERT's normalizer puts spaces around each one.
    pub ideographs: bool,
    /// WordPiece turns any word of more than this many characters into one unknown token, so
    /// inside a run of letters and digits that long on both sides of the cut, the two pieces'
    /// unknown tokens are one ([`Piece::joins`]). 0 = never cut inside a word.
    pub long_words: usize,
    /// Texts of added tokens, ASCII-lowercased: a cut never falls inside an occurrence, nor
    /// right before or after one.
    pub added: Vec<String>,
}

/// One piece of a text: `text[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub end: usize,
    /// The cut at `end` is inside a long word ([`Cuts::long_words`]): this piece ends with the
    /// word's unknown token and the next one starts with it again, to be dropped.
    pub joins: bool,
}

impl Cuts {
    /// No cut at all: the text is tokenized in one call.
    pub fn none() -> Cuts {
        Cuts::default()
    }

    pub fn any(&self) -> bool {
        self.whitespace || self.inside_whitespace || self.punctuation || self.ideographs || self.long_words > 0
    }

    /// The piece of `text` that starts at `start` (a character boundary): the last cut at most
    /// `target` bytes on, or if there is none, the first cut after that, or the end of the text.
    /// A piece is longer than `target` only where the text has no cut for that long (one word
    /// of `target` bytes that WordPiece does not shorten, for example).
    pub fn next_piece(&self, text: &str, start: usize, target: usize) -> Piece {
        let end_of_text = Piece { end: text.len(), joins: false };
        if text.len() - start <= target || !self.any() {
            return end_of_text;
        }
        let limit = start + target;
        let mut best: Option<Piece> = None;
        let mut word = LongWord::new(self.long_words);
        let mut prev: Option<char> = None;
        for (offset, c) in text[start..].char_indices() {
            let p = start + offset;
            if let Some(before) = prev {
                let mut found = self.boundary(before, c).then_some(Piece { end: p, joins: false });
                // A long-word cut lies `long_words + 1` characters back, where the word already
                // has that many characters on both sides.
                if let Some(at) = word.step(p, c) {
                    if found.is_none() && at > start {
                        found = Some(Piece { end: at, joins: true });
                    }
                }
                if let Some(piece) = found.filter(|piece| !self.inside_added(text, piece.end)) {
                    if piece.end <= limit {
                        best = Some(piece);
                    } else {
                        return best.unwrap_or(piece);
                    }
                }
                // Long-word cuts lag the scan by `long_words + 1` characters; past that, no
                // earlier cut can come any more.
                if best.is_some() && p > limit.saturating_add(4 * (self.long_words + 1)) {
                    break;
                }
            } else {
                word.step(p, c);
            }
            prev = Some(c);
        }
        best.unwrap_or(end_of_text)
    }

    /// Is the position between `before` and `c` a cut of an enabled kind?
    fn boundary(&self, before: char, c: char) -> bool {
        (self.whitespace && c.is_whitespace() && !before.is_whitespace())
            || (self.inside_whitespace && c.is_whitespace() && before.is_whitespace())
            || (self.punctuation
                && is_cut_punctuation(c)
                && (before.is_ascii_alphanumeric() || is_cjk_ideograph(before)))
            || (self.ideographs && is_cjk_ideograph(c))
    }

    /// Does an occurrence of an added token span, start or end at position `p`? Touching
    /// counts too: a token that swallows the spaces beside it (`lstrip`, `rstrip`) or matches
    /// only as a whole word (`single_word`) depends on the characters next to it.
    fn inside_added(&self, text: &str, p: usize) -> bool {
        let bytes = text.as_bytes();
        let near: Vec<u8> = [p.checked_sub(1), Some(p)].into_iter().flatten().filter_map(|i| bytes.get(i)).map(u8::to_ascii_lowercase).collect();
        self.added.iter().any(|token| {
            let n = token.len();
            // An occurrence touching `p` contains the byte before it or the byte at it.
            if n == 0 || !near.iter().any(|b| token.as_bytes().contains(b)) {
                return false;
            }
            let (lo, hi) = (p.saturating_sub(n), (p + n).min(bytes.len()));
            bytes[lo..hi].windows(n).enumerate().any(|(i, w)| lo + i <= p && w.eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

/// Tracks the current run of word characters for long-word cuts.
struct LongWord {
    /// Characters needed on each side of a cut (0 = disabled).
    need: usize,
    /// Byte positions of the run's last `need + 1` character starts, oldest first.
    starts: std::collections::VecDeque<usize>,
    /// Characters in the current run.
    len: usize,
}

impl LongWord {
    fn new(max_chars: usize) -> LongWord {
        let need = if max_chars == 0 { 0 } else { max_chars + 1 };
        LongWord { need, starts: std::collections::VecDeque::with_capacity(need + 1), len: 0 }
    }

    /// Feeds the character `c` at byte `p`; returns a cut position whose run has `need`
    /// characters before it and `need` after it (ending with `c`).
    fn step(&mut self, p: usize, c: char) -> Option<usize> {
        if self.need == 0 {
            return None;
        }
        if !is_word_char(c) {
            self.len = 0;
            self.starts.clear();
            return None;
        }
        self.len += 1;
        self.starts.push_back(p);
        if self.starts.len() > self.need {
            self.starts.pop_front();
        }
        // The cut is before the oldest kept character: `need` characters from it to `c`.
        (self.len >= 2 * self.need).then(|| self.starts.front().copied()).flatten()
    }
}

/// Letters and digits outside the CJK ideographs: never a split point for BERT's pre-tokenizer
/// and never removed by its normalizer, so each counts at least one character of a word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk_ideograph(c)
}

fn is_cut_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c, '。' | '，' | '、' | '；' | '：' | '！' | '？' | '「' | '」' | '（' | '）')
}

/// The ranges BERT's normalizer treats as Chinese characters.
pub fn is_cjk_ideograph(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// Every cut position of `text` (in order), for checking a tokenizer against its whole-text
/// output with pieces as small as they come.
pub fn all_cuts(cuts: &Cuts, text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let piece = cuts.next_piece(text, start, 1);
        out.push(piece);
        start = piece.end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(cuts: &Cuts, text: &str) -> Vec<usize> {
        all_cuts(cuts, text).iter().map(|p| p.end).collect()
    }

    #[test]
    fn whitespace_cuts_keep_runs_of_spaces_together() {
        let c = Cuts { whitespace: true, ..Cuts::none() };
        assert_eq!(ends(&c, "ab  cd\te"), vec![2, 6, 8]);
        assert_eq!(ends(&c, "  lead"), vec![6], "no cut before the first non-space");
        assert_eq!(ends(&Cuts::none(), "ab cd"), vec![5]);
    }

    #[test]
    fn pieces_end_at_the_last_cut_within_the_target() {
        let c = Cuts { whitespace: true, ..Cuts::none() };
        let text = "aaa bbb ccc ddd";
        assert_eq!(c.next_piece(text, 0, 9), Piece { end: 7, joins: false });
        assert_eq!(c.next_piece(text, 0, 2), Piece { end: 3, joins: false }, "no cut within: the first after");
        assert_eq!(c.next_piece(text, 7, 100), Piece { end: 15, joins: false });
        assert_eq!(c.next_piece("x".repeat(50).as_str(), 0, 10).end, 50, "a word without a cut stays whole");
    }

    #[test]
    fn inside_runs_of_whitespace() {
        let c = Cuts { whitespace: true, inside_whitespace: true, ..Cuts::none() };
        assert_eq!(ends(&c, "  a  b"), vec![1, 3, 4, 6]);
    }

    #[test]
    fn punctuation_and_ideographs() {
        let p = Cuts { punctuation: true, ..Cuts::none() };
        assert_eq!(ends(&p, "a.b..c"), vec![1, 3, 6], "only after a letter or digit");
        assert_eq!(ends(&p, "中文。好"), vec![6, 12]);
        let i = Cuts { ideographs: true, ..Cuts::none() };
        assert_eq!(ends(&i, "a中文"), vec![1, 4, 7]);
    }

    #[test]
    fn never_inside_an_added_token() {
        let c = Cuts { punctuation: true, added: vec!["[mask]".into()], ..Cuts::none() };
        assert_eq!(ends(&c, "x[MASK]y.z"), vec![8, 10], "not before '[' nor before ']' of [MASK]");
        let w = Cuts { whitespace: true, added: vec!["<mask>".into()], ..Cuts::none() };
        assert_eq!(ends(&w, "a <mask> b c"), vec![1, 10, 12], "not right after <mask>");
    }

    #[test]
    fn long_words_are_cut_with_enough_characters_on_both_sides() {
        let c = Cuts { long_words: 3, ..Cuts::none() };
        // need = 4 on each side: the first cut of a 10-letter word is after 4 letters, the last
        // 4 letters before its end.
        let cuts = all_cuts(&c, "abcdefghij k");
        assert_eq!(cuts[0], Piece { end: 4, joins: true });
        assert_eq!(c.next_piece("abcdefghij", 0, 100).end, 10);
        assert_eq!(c.next_piece("abcdefghij", 0, 5), Piece { end: 5, joins: true });
        assert_eq!(c.next_piece("abcdefghij", 0, 7), Piece { end: 6, joins: true }, "4 letters must follow");
        assert_eq!(c.next_piece("abcdefg", 0, 3).end, 7, "too short to cut");
        let cut = c.next_piece("aébcdéfghij", 0, 6);
        assert!(cut.joins && "aébcdéfghij".is_char_boundary(cut.end));
    }
}
