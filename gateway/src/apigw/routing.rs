//! Matching request paths against the template's resource paths, as API Gateway does.

use percent_encoding::percent_decode_str;

/// One segment of a resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{proxy+}`: the rest of the path, one or more segments.
    Greedy(String),
}

/// Path parameters: (name, decoded value).
pub type PathParams = Vec<(String, String)>;

/// A resource path (`/posts/{id}`) compiled for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// The template path, as the event's `resource` field shows it.
    pub template: String,
    segments: Vec<Segment>,
}

impl ResourcePath {
    /// Compiles a template path.
    pub fn new(template: &str) -> ResourcePath {
        let segments = split(template)
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => match name.strip_suffix('+') {
                        Some(greedy) => Segment::Greedy(greedy.to_string()),
                        None => Segment::Param(name.to_string()),
                    },
                    None => Segment::Literal(s.to_string()),
                },
            )
            .collect();
        ResourcePath {
            template: template.to_string(),
            segments,
        }
    }

    /// The path parameters when `path` (raw, percent-encoded, query removed) matches, with a
    /// rank that orders matches the way API Gateway prefers them (literal over `{param}` over
    /// `{proxy+}`, segment by segment).
    fn matches(&self, path: &str) -> Option<(Vec<u8>, PathParams)> {
        let parts: Vec<&str> = split(path).collect();
        let mut params = Vec::new();
        let mut rank = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Greedy(name) => {
                    if i >= parts.len() {
                        return None;
                    }
                    let rest: Vec<String> = parts[i..].iter().map(|p| decode(p)).collect();
                    params.push((name.clone(), rest.join("/")));
                    rank.push(0);
                    return Some((rank, params));
                }
                _ if i >= parts.len() => return None,
                Segment::Literal(lit) => {
                    if decode(parts[i]) != *lit {
                        return None;
                    }
                    rank.push(2);
                }
                Segment::Param(name) => {
                    if parts[i].is_empty() {
                        return None;
                    }
                    params.push((name.clone(), decode(parts[i])));
                    rank.push(1);
                }
            }
        }
        (parts.len() == self.segments.len()).then_some((rank, params))
    }
}

/// The segments of a path. One trailing slash is ignored, so `/posts/` is `/posts`; the root
/// path has no segments.
fn split(path: &str) -> impl Iterator<Item = &str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    let p = p.strip_suffix('/').unwrap_or(p);
    p.split('/').filter(move |_| !p.is_empty())
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The best matching resource of `resources` for `path`, with its path parameters.
pub fn best_match<'a, T>(
    resources: &'a [(ResourcePath, T)],
    path: &str,
) -> Option<(&'a ResourcePath, &'a T, PathParams)> {
    resources
        .iter()
        .filter_map(|(r, t)| r.matches(path).map(|(rank, params)| (rank, r, t, params)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, r, t, params)| (r, t, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<(ResourcePath, &'static str)> {
        [
            "/",
            "/posts",
            "/posts/{id}",
            "/posts/latest",
            "/users/{id}",
            "/files/{proxy+}",
        ]
        .into_iter()
        .map(|p| (ResourcePath::new(p), p))
        .collect()
    }

    fn lookup(path: &str) -> Option<(&'static str, Vec<(String, String)>)> {
        let t = table();
        best_match(&t, path).map(|(_, v, params)| (*v, params))
    }

    #[test]
    fn paths_match_with_and_without_a_trailing_slash() {
        assert_eq!(lookup("/posts").unwrap().0, "/posts");
        assert_eq!(lookup("/posts/").unwrap().0, "/posts");
        assert_eq!(lookup("/").unwrap().0, "/");
        assert_eq!(
            lookup("/posts/7/").unwrap(),
            ("/posts/{id}", vec![("id".into(), "7".into())])
        );
    }

    #[test]
    fn path_parameters_are_decoded_and_literals_win_over_parameters() {
        assert_eq!(
            lookup("/posts/7").unwrap(),
            ("/posts/{id}", vec![("id".into(), "7".into())])
        );
        assert_eq!(lookup("/posts/latest").unwrap().0, "/posts/latest");
        assert_eq!(
            lookup("/users/a%20b").unwrap().1,
            vec![("id".into(), "a b".into())]
        );
        assert_eq!(
            lookup("/files/a/b/c").unwrap().1,
            vec![("proxy".into(), "a/b/c".into())]
        );
    }

    #[test]
    fn unknown_paths_do_not_match() {
        assert!(lookup("/nope").is_none());
        assert!(lookup("/posts/7/comments").is_none());
        assert!(lookup("/posts//").is_none());
        assert!(lookup("/files").is_none());
    }
}
