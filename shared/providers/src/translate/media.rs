//! Image parts: OpenAI sends either a `data:` URL or an http(s) URL; native protocols want
//! base64 with a media type, or a URL, in their own fields.

use gateway_core::upstream::ProviderError;
use gateway_core::wire::DataUrl;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource<'a> {
    Inline(DataUrl<'a>),
    Url(&'a str),
}

/// Reads an `image_url.url`; anything but a base64 data URL or an http(s) URL is refused
/// with an error naming `param`.
pub fn image_source<'a>(url: &'a str, param: &str) -> Result<ImageSource<'a>, ProviderError> {
    if let Some(data) = DataUrl::parse(url).map_err(|e| ProviderError::unsupported(param, e))? {
        return Ok(ImageSource::Inline(data));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageSource::Url(url));
    }
    Err(ProviderError::unsupported(
        param,
        "an image URL must be an http(s) URL or a base64 data URL",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_http_urls_are_read() {
        assert_eq!(
            image_source("data:image/png;base64,iVBO", "p").unwrap(),
            ImageSource::Inline(DataUrl {
                media_type: "image/png",
                base64: "iVBO"
            })
        );
        assert_eq!(
            image_source("https://x.test/a.jpg", "p").unwrap(),
            ImageSource::Url("https://x.test/a.jpg")
        );
        for bad in [
            "data:image/png,raw",
            "data:text/plain;base64,AA",
            "ftp://x",
            "data:x",
        ] {
            let e = image_source(bad, "messages[0].content[1]").unwrap_err();
            assert_eq!(e.param.as_deref(), Some("messages[0].content[1]"), "{bad}");
        }
    }
}
