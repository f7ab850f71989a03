//! The keyword table built from [`KEYWORDS`], looked up for every word of a line, and the
//! language guess made from the keyword points at the end.

use std::sync::OnceLock;

use super::keywords::KEYWORDS;
use super::{LANGUAGES, NLANG};

/// English function word that is never a keyword.
pub(super) const STOP: u8 = 2;
/// English function word that is also a keyword somewhere (`if`, `for`, `in`, `and`...).
pub(super) const WEAK_STOP: u8 = 1;

#[derive(Clone, Copy)]
pub(super) struct Word {
    pub(super) stop: u8,
    /// Starts statements (`return`, `fi`, `SELECT`).
    pub(super) start: bool,
    pub(super) lang: [u8; NLANG],
}
pub(super) struct Table {
    words: Vec<(&'static str, Word)>,
    slots: Vec<u16>,
}

const SLOTS: usize = 2048;

fn hash(b: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &x in b {
        h = (h ^ x as u32).wrapping_mul(0x0100_0193);
    }
    (h as usize) & (SLOTS - 1)
}

impl Table {
    pub(super) fn get() -> &'static Table {
        static TABLE: OnceLock<Table> = OnceLock::new();
        TABLE.get_or_init(Table::build)
    }

    fn build() -> Table {
        let mut t = Table { words: Vec::new(), slots: vec![u16::MAX; SLOTS] };
        for line in KEYWORDS.lines() {
            let Some((tag, words)) = line.split_once(':') else { continue };
            for w in words.split_whitespace() {
                let i = t.index_of(w);
                let e = &mut t.words[i].1;
                match tag {
                    "stop" => e.stop = STOP,
                    "weak" => e.stop = e.stop.max(WEAK_STOP),
                    "start" => e.start = true,
                    _ => {
                        let split = tag.find(|c: char| c.is_ascii_digit()).unwrap_or(tag.len());
                        let (name, weight) = tag.split_at(split);
                        let lang = LANGUAGES.iter().position(|l| *l == name);
                        debug_assert!(lang.is_some(), "unknown tag {tag} in KEYWORDS");
                        if let Some(lang) = lang {
                            e.lang[lang] = e.lang[lang].max(weight.parse().unwrap_or(1));
                        }
                    }
                }
            }
        }
        t
    }

    fn index_of(&mut self, w: &'static str) -> usize {
        let mut h = hash(w.as_bytes());
        loop {
            let slot = self.slots[h];
            if slot == u16::MAX {
                self.words.push((w, Word { stop: 0, start: false, lang: [0; NLANG] }));
                self.slots[h] = (self.words.len() - 1) as u16;
                return self.words.len() - 1;
            }
            if self.words[slot as usize].0 == w {
                return slot as usize;
            }
            h = (h + 1) & (SLOTS - 1);
        }
    }

    #[inline]
    pub(super) fn lookup(&self, w: &[u8]) -> Option<&Word> {
        let mut h = hash(w);
        loop {
            let slot = self.slots[h];
            if slot == u16::MAX {
                return None;
            }
            let (k, e) = &self.words[slot as usize];
            if k.as_bytes() == w {
                return Some(e);
            }
            h = (h + 1) & (SLOTS - 1);
        }
    }
}

pub(super) fn guess_language(points: &[f32; NLANG], evidence: &mut Vec<String>) -> Option<&'static str> {
    let mut best = 0;
    let mut second = 0.0f32;
    for i in 1..NLANG {
        if points[i] > points[best] {
            second = points[best];
            best = i;
        } else if points[i] > second {
            second = points[i];
        }
    }
    let top = points[best];
    if top >= 3.0 && top >= 1.25 * second {
        evidence.push(format!("{:.0} keyword points for {} (next best {:.0})", top, LANGUAGES[best], second));
        Some(LANGUAGES[best])
    } else {
        None
    }
}
