//! HTML form bodies, read the way FastAPI (Starlette) reads them for `Form` parameters: by the
//! request's `Content-Type`, either `application/x-www-form-urlencoded` or
//! `multipart/form-data` (what Postman's "form-data" tab and `curl -F` send).
//!
//! - The media type is matched case-insensitively and its parameters (`charset`, `boundary`,
//!   quoted or not) are honoured. Url-encoded bodies are read as UTF-8, as browsers send them.
//! - Any other or no `Content-Type` gives no fields at all, so the caller answers its usual 422
//!   for missing fields, exactly as FastAPI does.
//! - A multipart body that cannot be parsed (no or wrong boundary, truncated) is a 422 at
//!   `["body"]`, never a 500: it is the client's mistake.
//! - Parts with a file name are file uploads, not text fields: they are skipped, so a `username`
//!   sent as a file counts as missing (FastAPI answers 422 for it too).
//! - When a name repeats, the first value wins.

use crate::error::{ApiError, FieldError};

/// The fields of a form body, in order, as `(name, value)`.
pub type Fields = Vec<(String, String)>;

/// Why a form body was refused (only multipart bodies can be malformed).
fn unreadable() -> ApiError {
    ApiError::Validation(vec![FieldError::body(
        "multipart_invalid",
        "There was an error parsing the body",
    )])
}

/// The form fields of a request body, read according to its `Content-Type` header.
pub async fn read_form(content_type: Option<&str>, body: &[u8]) -> Result<Fields, ApiError> {
    let Some(content_type) = content_type else {
        return Ok(Fields::new());
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        // Decoding into string pairs does not fail: bad escapes stay as typed, bad UTF-8 is
        // replaced.
        "application/x-www-form-urlencoded" => {
            Ok(serde_urlencoded::from_bytes(body).unwrap_or_default())
        }
        "multipart/form-data" => read_multipart(content_type, body).await,
        _ => Ok(Fields::new()),
    }
}

async fn read_multipart(content_type: &str, body: &[u8]) -> Result<Fields, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| unreadable())?;
    // The whole body is already in memory (Lambda hands it over at once): a one-item stream.
    let chunk = body.to_vec();
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(chunk) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Fields::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().map(str::to_owned);
        if field.file_name().is_some() {
            field.bytes().await.map_err(|_| unreadable())?;
            continue;
        }
        // Decoded with the part's own charset when it names one, else UTF-8 (lossy).
        let value = field.text().await.map_err(|_| unreadable())?;
        if let Some(name) = name {
            fields.push((name, value));
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    /// A multipart body with `boundary` and these `(name, value)` text parts.
    fn multipart(boundary: &str, parts: &[(&str, &str)]) -> Vec<u8> {
        let mut body = String::new();
        for (name, value) in parts {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        body.into_bytes()
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn is_422(result: Result<Fields, ApiError>) -> bool {
        matches!(result, Err(ApiError::Validation(errors)) if errors[0].loc == ["body"])
    }

    #[tokio::test]
    async fn a_multipart_body_is_read_by_its_boundary() {
        let body = multipart("XyZ", &[("username", "a@b.co"), ("password", "p&ss =")]);
        assert_eq!(
            read_form(Some(CT), &body).await.unwrap(),
            fields(&[("username", "a@b.co"), ("password", "p&ss =")])
        );
    }

    #[tokio::test]
    async fn the_media_type_is_case_insensitive_and_the_boundary_may_be_quoted() {
        let body = multipart("a b:c", &[("username", "u")]);
        for ct in [
            "Multipart/Form-Data; boundary=\"a b:c\"",
            "multipart/form-data; charset=utf-8; BOUNDARY=\"a b:c\"",
        ] {
            assert_eq!(
                read_form(Some(ct), &body).await.unwrap(),
                fields(&[("username", "u")]),
                "{ct}"
            );
        }
    }

    #[tokio::test]
    async fn file_parts_are_skipped_and_text_parts_around_them_kept() {
        let body = "--XyZ\r\n\
            Content-Disposition: form-data; name=\"username\"\r\n\r\na@b.co\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\n\
            Content-Type: application/octet-stream\r\n\r\n\x01\x02--X\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"password\"; filename=\"pw.txt\"\r\n\r\nsecret\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"grant_type\"\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\r\npassword\r\n\
            --XyZ--\r\n";
        assert_eq!(
            read_form(Some(CT), body.as_bytes()).await.unwrap(),
            fields(&[("username", "a@b.co"), ("grant_type", "password")])
        );
    }

    #[tokio::test]
    async fn a_missing_or_wrong_boundary_or_a_truncated_body_is_a_422_never_a_500() {
        let body = multipart("XyZ", &[("username", "u"), ("password", "p")]);
        assert!(is_422(read_form(Some("multipart/form-data"), &body).await));
        assert!(is_422(
            read_form(Some("multipart/form-data; boundary="), &body).await
        ));
        assert!(is_422(
            read_form(Some("multipart/form-data; boundary=Other"), &body).await
        ));
        assert!(is_422(read_form(Some(CT), &body[..body.len() - 12]).await));
        assert!(is_422(read_form(Some(CT), b"garbage").await));
    }

    #[tokio::test]
    async fn a_multipart_login_form_is_validated_like_a_url_encoded_one() {
        use crate::models::LoginForm;
        let body = multipart(
            "XyZ",
            &[
                ("grant_type", "password"),
                ("username", "Bob@Example.COM"),
                ("password", "pw"),
                ("scope", ""),
                ("client_id", "c"),
                ("client_secret", "s"),
            ],
        );
        let form = LoginForm::from_request(Some(CT), &body).await.unwrap();
        assert_eq!(
            (form.username.as_str(), form.password.as_str()),
            ("Bob@example.com", "pw")
        );
        // Missing fields: one 422 naming both, as for a url-encoded form.
        let body = multipart("XyZ", &[("scope", "")]);
        match LoginForm::from_request(Some(CT), &body).await {
            Err(ApiError::Validation(errors)) => {
                let locs: Vec<_> = errors.iter().map(|e| e.loc.clone()).collect();
                assert_eq!(locs, [["body", "username"], ["body", "password"]]);
            }
            other => panic!("expected a 422, got {other:?}"),
        }
        let body = multipart(
            "XyZ",
            &[("username", "u"), ("password", "p"), ("grant_type", "x")],
        );
        assert!(matches!(
            LoginForm::from_request(Some(CT), &body).await,
            Err(ApiError::Validation(_))
        ));
        // A JSON body is no form: its fields are missing.
        assert!(matches!(
            LoginForm::from_request(
                Some("application/json"),
                br#"{"username":"a@b.co","password":"x"}"#
            )
            .await,
            Err(ApiError::Validation(errors)) if errors.len() == 2
        ));
    }

    #[tokio::test]
    async fn url_encoded_bodies_are_percent_decoded_whatever_the_charset_parameter() {
        for ct in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
        ] {
            assert_eq!(
                read_form(Some(ct), b"username=a%40b.co&password=p%26ss+x")
                    .await
                    .unwrap(),
                fields(&[("username", "a@b.co"), ("password", "p&ss x")])
            );
        }
    }

    #[tokio::test]
    async fn another_or_no_content_type_gives_no_fields() {
        let form = b"username=a%40b.co&password=x";
        assert!(read_form(None, form).await.unwrap().is_empty());
        assert!(
            read_form(Some("application/json"), form)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            read_form(Some("text/plain"), form)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
