//! Cheap features of a prompt's text that its embedding does not carry well. A word problem's
//! difficulty grows with its steps and with the kind of arithmetic they take (decimals,
//! fractions, percentages, rates); an embedding of at most 256 word pieces, averaged, loses
//! most of that. Each feature is `ln(1 + count)`, so a predictor's standardisation sees
//! comparable scales.
//!
//! Two sets exist. [`PromptFeatures::Counts`] is the first four (how long the prompt is, how many
//! numbers, sentences and words it holds), kept so predictors saved with it still load.
//! [`PromptFeatures::Arithmetic`] adds ten about the quantities the prompt works with.

use serde::{Deserialize, Deserializer, Serialize};

/// How many features the largest set has.
pub const MAX: usize = 14;

/// Which features a predictor reads after the embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptFeatures {
    /// The embedding alone.
    None,
    /// Characters, numbers, sentence ends and words.
    Counts,
    /// The counts, then distinct numbers, percentages, fraction and multiple words, money
    /// amounts, decimals, the largest number, rate words, comparison words, questions and
    /// number words.
    Arithmetic,
}

impl PromptFeatures {
    /// How many values this set adds after the embedding.
    pub fn len(self) -> usize {
        match self {
            Self::None => 0,
            Self::Counts => 4,
            Self::Arithmetic => MAX,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The embedding followed by this set's features of `prompt`: a predictor's input.
    pub fn input(self, prompt: &str, embedding: &[f32]) -> Vec<f32> {
        let mut input = Vec::with_capacity(embedding.len() + self.len());
        input.extend_from_slice(embedding);
        if !self.is_empty() {
            input.extend_from_slice(&all_features(prompt)[..self.len()]);
        }
        input
    }
}

/// Predictor files written before the sets had names say `true` (the counts) or `false`.
impl<'de> Deserialize<'de> for PromptFeatures {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Named {
            None,
            Counts,
            Arithmetic,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Legacy(bool),
            Named(Named),
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Legacy(false) | Stored::Named(Named::None) => Self::None,
            Stored::Legacy(true) | Stored::Named(Named::Counts) => Self::Counts,
            Stored::Named(Named::Arithmetic) => Self::Arithmetic,
        })
    }
}

const FRACTION_WORDS: &[&str] = &[
    "half", "halves", "twice", "double", "triple", "third", "thirds", "quarter", "quarters",
    "dozen", "fraction",
];
const RATE_WORDS: &[&str] = &["each", "per", "every"];
const COMPARISON_WORDS: &[&str] = &["more", "less", "fewer", "than"];
const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "hundred",
    "thousand",
];

/// Every feature of `prompt`, in the order the sets take them.
fn all_features(prompt: &str) -> [f32; MAX] {
    let numbers = numbers_in(prompt);
    let mut distinct: Vec<&str> = numbers.iter().map(|n| n.text).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let largest = numbers.iter().map(|n| n.value).fold(0.0f64, f64::max);

    let mut words = Words::default();
    for word in prompt
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let word = word.as_str();
        words.percent += usize::from(word == "percent");
        words.fraction += usize::from(FRACTION_WORDS.contains(&word));
        words.rate += usize::from(RATE_WORDS.contains(&word));
        words.comparison += usize::from(COMPARISON_WORDS.contains(&word));
        words.number += usize::from(NUMBER_WORDS.contains(&word));
    }
    let count = |c: char| prompt.chars().filter(|&x| x == c).count();
    let ln = |n: usize| (1.0 + n as f64).ln() as f32;
    [
        ln(prompt.chars().count()),
        ln(numbers.len()),
        ln(prompt
            .chars()
            .filter(|c| matches!(c, '.' | '?' | '!'))
            .count()),
        ln(prompt.split_whitespace().count()),
        ln(distinct.len()),
        ln(count('%') + words.percent),
        ln(words.fraction),
        ln(count('$')),
        ln(numbers.iter().filter(|n| n.decimal).count()),
        largest.ln_1p() as f32,
        ln(words.rate),
        ln(words.comparison),
        ln(count('?')),
        ln(words.number),
    ]
}

#[derive(Default)]
struct Words {
    percent: usize,
    fraction: usize,
    rate: usize,
    comparison: usize,
    number: usize,
}

struct Number<'a> {
    text: &'a str,
    value: f64,
    decimal: bool,
}

/// The numbers written with digits: `1,000` and `2.5` are one number each; a sentence's final
/// full stop is not part of the number before it.
fn numbers_in(prompt: &str) -> Vec<Number<'_>> {
    let bytes = prompt.as_bytes();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut decimal = false;
        while i < bytes.len() {
            let separator = matches!(bytes[i], b',' | b'.');
            if bytes[i].is_ascii_digit() {
                i += 1;
            } else if separator && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                decimal |= bytes[i] == b'.';
                i += 1;
            } else {
                break;
            }
        }
        let text = &prompt[start..i];
        let value = text.replace(',', "").parse::<f64>().unwrap_or(0.0);
        numbers.push(Number {
            text,
            value,
            decimal,
        });
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ln(n: f64) -> f32 {
        n.ln_1p() as f32
    }

    #[test]
    fn numbers_sentences_and_words_are_counted() {
        let prompt = "Tom has 1,000 apples and eats 2.5 a day. How long do they last?";
        let f = PromptFeatures::Counts.input(prompt, &[9.0]);
        assert_eq!(f, [9.0, ln(63.0), ln(2.0), ln(3.0), ln(14.0)]);
        assert_eq!(PromptFeatures::Counts.input("", &[]), [0.0; 4]);
        assert_eq!(PromptFeatures::None.input(prompt, &[9.0]), [9.0]);
    }

    #[test]
    fn the_arithmetic_set_counts_the_kinds_of_quantity() {
        let prompt = "Ann pays $3.50 per apple and buys twice as many as Bo, who buys 4. \
                      Bo spends 20% more than Cy. How much does Ann spend? Four friends help.";
        let f = PromptFeatures::Arithmetic.input(prompt, &[]);
        assert_eq!(f.len(), MAX);
        assert_eq!(f[1], ln(3.0), "numbers: 3.50, 4, 20");
        assert_eq!(f[4], ln(3.0), "distinct numbers");
        assert_eq!(f[5], ln(1.0), "percentages");
        assert_eq!(f[6], ln(1.0), "fraction and multiple words: twice");
        assert_eq!(f[7], ln(1.0), "money");
        assert_eq!(f[8], ln(1.0), "decimals: 3.50");
        assert_eq!(f[9], ln(20.0), "largest number");
        assert_eq!(f[10], ln(1.0), "rates: per");
        assert_eq!(f[11], ln(2.0), "comparisons: more, than");
        assert_eq!(f[12], ln(1.0), "questions");
        assert_eq!(f[13], ln(1.0), "number words: four");
    }

    #[test]
    fn the_counts_are_the_first_features_of_the_arithmetic_set() {
        let prompt = "A train leaves at 3.15 pm, 1,200 miles away. When does it arrive?";
        let counts = PromptFeatures::Counts.input(prompt, &[]);
        let all = PromptFeatures::Arithmetic.input(prompt, &[]);
        assert_eq!(counts, all[..4]);
    }

    #[test]
    fn saved_names_and_legacy_flags_both_load() {
        let parse = |text: &str| serde_json::from_str::<PromptFeatures>(text).unwrap();
        assert_eq!(parse("true"), PromptFeatures::Counts);
        assert_eq!(parse("false"), PromptFeatures::None);
        assert_eq!(parse("\"arithmetic\""), PromptFeatures::Arithmetic);
        assert_eq!(
            serde_json::to_string(&PromptFeatures::Arithmetic).unwrap(),
            "\"arithmetic\""
        );
        assert!(serde_json::from_str::<PromptFeatures>("\"colour\"").is_err());
    }
}
