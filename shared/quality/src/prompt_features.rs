//! Cheap features of a prompt's text that its embedding does not carry well: how long it is,
//! how many numbers it holds, how many sentences and words. A word problem's difficulty grows
//! with its steps, and its steps with these counts; an embedding of at most 256 word pieces,
//! averaged, loses most of that. Each is `ln(1 + count)`, so a predictor's standardisation
//! sees comparable scales.

/// How many features [`prompt_features`] gives.
pub const COUNT: usize = 4;

/// The features of `prompt`: characters, numbers, sentence ends and words, each `ln(1 + n)`.
pub fn prompt_features(prompt: &str) -> [f32; COUNT] {
    let mut numbers = 0usize;
    let mut in_number = false;
    for c in prompt.chars() {
        let digit = c.is_ascii_digit();
        if digit && !in_number {
            numbers += 1;
        }
        // `1,000` and `2.5` are one number each.
        in_number = digit || (in_number && (c == '.' || c == ','));
    }
    let sentences = prompt
        .chars()
        .filter(|c| matches!(c, '.' | '?' | '!'))
        .count();
    let words = prompt.split_whitespace().count();
    let ln = |n: usize| (1.0 + n as f64).ln() as f32;
    [
        ln(prompt.chars().count()),
        ln(numbers),
        ln(sentences),
        ln(words),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sentences_and_words_are_counted() {
        let f = prompt_features("Tom has 1,000 apples and eats 2.5 a day. How long do they last?");
        let ln = |n: f64| ((1.0 + n).ln()) as f32;
        assert_eq!(f, [ln(63.0), ln(2.0), ln(3.0), ln(14.0)]);
        assert_eq!(prompt_features(""), [0.0; COUNT]);
    }
}
