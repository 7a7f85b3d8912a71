//! `data:` URLs in image parts. OpenAI and every native protocol take inline images only as
//! base64 with an image media type, so a malformed one is refused at the edge, the same for
//! every model; adapters read the same parse to put the data in their own fields.

/// A `data:<media type>;base64,<data>` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl<'a> {
    pub media_type: &'a str,
    pub base64: &'a str,
}

impl<'a> DataUrl<'a> {
    /// `None` for a URL that is not a `data:` URL; an error, saying what is wrong, for a
    /// `data:` URL that is not a base64 image.
    pub fn parse(url: &'a str) -> Result<Option<Self>, String> {
        let Some(rest) = url.strip_prefix("data:") else {
            return Ok(None);
        };
        let (header, base64) = rest
            .split_once(',')
            .ok_or("an image data URL has no `,` before its data")?;
        let media_type = header
            .strip_suffix(";base64")
            .ok_or("image data URLs must be base64 (`;base64,`)")?;
        if !media_type.starts_with("image/") {
            return Err(format!("`{media_type}` is not an image media type"));
        }
        Ok(Some(DataUrl { media_type, base64 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_images_are_split_and_other_data_urls_refused() {
        assert_eq!(
            DataUrl::parse("data:image/png;base64,iVBO"),
            Ok(Some(DataUrl {
                media_type: "image/png",
                base64: "iVBO"
            }))
        );
        assert_eq!(DataUrl::parse("https://x.test/a.png"), Ok(None));
        for bad in ["data:image/png,raw", "data:text/plain;base64,AA", "data:x"] {
            assert!(DataUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
