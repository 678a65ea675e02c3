//! Reading the sharded feed and the search index (`GET /posts`).
//!
//! **Feed.** Every shard is queried at once on `gsi1` (`gsi1pk = POSTS#<s>`, newest first,
//! `gsi1sk < :before` with a cursor) with `Limit` = the posts still needed (`skip + limit`),
//! and the pages are merged by id. One page of the API costs one `Query` per shard (more only
//! when DynamoDB's 1 MB page limit or posts being deleted cut a shard's page short).
//!
//! **Search.** A search of up to [`MAX_GRAM_CHARS`] characters reads the posting list of the
//! search itself in every shard; a longer one intersects the posting lists of up to
//! [`MAX_TRIGRAM_LISTS`] of its trigrams per shard with a leapfrog join, which skips through
//! a long list with `sk <= :x` queries instead of reading it. The candidates of all shards are
//! merged newest first and verified in batches against their posts (`BatchGetItem`, strongly
//! consistent): a candidate counts only if its post exists, is not being deleted, has the
//! posting's title version and its title contains the search. Only verified posts count
//! toward `skip` and `limit`, so both stay exact.

use super::postings::{MAX_GRAM_CHARS, parse_posting_sk, posting_pk};
use super::posts::{POSTS_INDEX, PostItem, feed_pk};
use super::{Item, Store, classify, from_item, n, s};
use crate::domain::{Post, PostId, StoreError};
use std::collections::{HashSet, VecDeque};

/// The most trigram posting lists a long search intersects (per shard): the first, the last
/// and evenly spread ones between. More lists cut fewer false positives but cost more
/// queries; the verification step keeps the answer exact either way.
pub const MAX_TRIGRAM_LISTS: usize = 4;
/// Candidates verified per `BatchGetItem` (DynamoDB's limit).
const VERIFY_BATCH_MAX: usize = 100;
/// The smallest `Limit` of a posting-list query in an intersection: small enough that a
/// common trigram is not read far past the next match, large enough not to need a query per
/// posting.
const MIN_SEEK_LIMIT: usize = 8;

impl Store {
    /// The feed: `limit` posts after skipping `skip`, newest first, older than `before`.
    pub(super) async fn list_feed(
        &self,
        limit: usize,
        skip: usize,
        before: Option<PostId>,
    ) -> Result<Vec<Post>, StoreError> {
        let wanted = skip + limit;
        let pages = futures_util::future::join_all(
            (0..self.feed_shards).map(|shard| self.feed_shard_page(shard, wanted, before)),
        )
        .await;
        let mut posts = Vec::with_capacity(wanted.min(1000));
        for page in pages {
            posts.extend(page?);
        }
        posts.sort_unstable_by_key(|p: &PostItem| std::cmp::Reverse(p.id));
        Ok(posts
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(Post::from)
            .collect())
    }

    /// Up to `wanted` posts of feed shard `shard`, newest first, older than `before`.
    async fn feed_shard_page(
        &self,
        shard: u32,
        wanted: usize,
        before: Option<PostId>,
    ) -> Result<Vec<PostItem>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(POSTS_INDEX)
                .expression_attribute_values(":p", s(feed_pk(shard)))
                .scan_index_forward(false)
                .filter_expression("attribute_not_exists(deleting)")
                .limit(i32::try_from(wanted - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            q = match before {
                Some(b) => q
                    .key_condition_expression("gsi1pk = :p AND gsi1sk < :b")
                    .expression_attribute_values(":b", n(b)),
                None => q.key_condition_expression("gsi1pk = :p"),
            };
            let out = q.send().await.map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                found.push(from_item::<PostItem>(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && found.len() < wanted => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    /// A search: `limit` posts whose title contains `search` after skipping `skip`, newest
    /// first, older than `before`.
    pub(super) async fn search_posts(
        &self,
        limit: usize,
        skip: usize,
        search: &str,
        before: Option<PostId>,
    ) -> Result<Vec<Post>, StoreError> {
        let wanted = skip + limit;
        let grams = search_grams(search);
        let start = before.map_or(Bound::Unbounded, |b| {
            Bound::Below(format!("{:016}", b.get()))
        });
        let mut sources: Vec<Intersection> = (0..self.feed_shards)
            .map(|shard| Intersection::new(shard, &grams, start.clone()))
            .collect();
        let mut buffers: Vec<VecDeque<Candidate>> = vec![VecDeque::new(); sources.len()];
        let mut hits: Vec<Post> = Vec::new();
        let mut seen: HashSet<PostId> = HashSet::new();
        while hits.len() < wanted {
            let want = (wanted - hits.len()).clamp(1, VERIFY_BATCH_MAX);
            // Refill every shard whose candidates ran out, all at once: the merge below can
            // only go on while each unfinished shard shows its next candidate.
            let refills = sources
                .iter_mut()
                .zip(buffers.iter_mut())
                .filter(|(source, buffer)| buffer.is_empty() && !source.finished)
                .map(|(source, buffer)| async move {
                    buffer.extend(source.next_candidates(self, want).await?);
                    Ok::<_, StoreError>(())
                });
            for r in futures_util::future::join_all(refills).await {
                r?;
            }
            // The next candidates of all shards, newest first.
            let mut batch = Vec::with_capacity(want);
            while batch.len() < want {
                let waiting = sources
                    .iter()
                    .zip(&buffers)
                    .any(|(source, buffer)| buffer.is_empty() && !source.finished);
                if waiting {
                    break;
                }
                let newest = buffers
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| b.front().map(|c| (i, c.0)))
                    .max_by_key(|(_, id)| *id);
                let Some((i, _)) = newest else { break };
                batch.extend(buffers[i].pop_front());
            }
            if batch.is_empty() {
                break; // Every shard is finished and drained.
            }
            hits.extend(self.verify(&batch, search, &mut seen).await?);
        }
        Ok(hits.into_iter().skip(skip).take(limit).collect())
    }

    /// The posts of `candidates` (in their order) that really match: the post exists, is not
    /// being deleted, is at the posting's title version and its title contains `search`.
    async fn verify(
        &self,
        candidates: &[Candidate],
        search: &str,
        seen: &mut HashSet<PostId>,
    ) -> Result<Vec<Post>, StoreError> {
        let mut ids: Vec<PostId> = candidates.iter().map(|c| c.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut posts = self.batch_get_posts(&ids).await?;
        let mut hits = Vec::new();
        for &Candidate(id, version) in candidates {
            let matches = posts
                .get(&id)
                .is_some_and(|p| !p.deleting && p.version == version && p.title.contains(search));
            if matches && seen.insert(id) {
                hits.extend(posts.remove(&id).map(Post::from));
            }
        }
        Ok(hits)
    }
}

/// A posting: post id and title version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate(PostId, u64);

/// The posting lists a search reads: the search itself when it is short enough to be a gram,
/// else up to [`MAX_TRIGRAM_LISTS`] distinct trigrams spread over it.
fn search_grams(search: &str) -> Vec<String> {
    let chars: Vec<char> = search.chars().collect();
    if chars.len() <= MAX_GRAM_CHARS {
        return vec![search.to_string()];
    }
    let mut trigrams: Vec<String> = Vec::new();
    for w in chars.windows(MAX_GRAM_CHARS) {
        let t: String = w.iter().collect();
        if !trigrams.contains(&t) {
            trigrams.push(t);
        }
    }
    if trigrams.len() <= MAX_TRIGRAM_LISTS {
        return trigrams;
    }
    let last = trigrams.len() - 1;
    let mut picked: Vec<String> = (0..MAX_TRIGRAM_LISTS)
        .map(|i| trigrams[i * last / (MAX_TRIGRAM_LISTS - 1)].clone())
        .collect();
    picked.dedup();
    picked
}

/// Where a posting-list cursor may go next (sort keys descend).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    Unbounded,
    /// Strictly below this sort key.
    Below(String),
    /// At or below this sort key.
    AtOrBelow(String),
}

impl Bound {
    fn admits(&self, sk: &str) -> bool {
        match self {
            Self::Unbounded => true,
            Self::Below(b) => sk < b.as_str(),
            Self::AtOrBelow(b) => sk <= b.as_str(),
        }
    }
}

/// One posting list being read newest first, a page at a time.
#[derive(Debug)]
struct ListCursor {
    pk: String,
    /// Sort keys read and not yet passed, newest first.
    buffer: VecDeque<String>,
    /// The last query reached the end of the list: nothing lies below `buffer`.
    at_end: bool,
}

impl ListCursor {
    /// Moves to the newest posting within `bound`; `None` when the list has none.
    async fn seek(
        &mut self,
        store: &Store,
        bound: &Bound,
        limit: usize,
    ) -> Result<Option<String>, StoreError> {
        while self.buffer.front().is_some_and(|sk| !bound.admits(sk)) {
            self.buffer.pop_front();
        }
        if self.buffer.is_empty() && !self.at_end {
            let mut q = store
                .client
                .query()
                .table_name(&store.table)
                .expression_attribute_values(":pk", s(&self.pk))
                .projection_expression("sk")
                .scan_index_forward(false)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX));
            q = match bound {
                Bound::Unbounded => q.key_condition_expression("pk = :pk"),
                Bound::Below(b) => q
                    .key_condition_expression("pk = :pk AND sk < :b")
                    .expression_attribute_values(":b", s(b)),
                Bound::AtOrBelow(b) => q
                    .key_condition_expression("pk = :pk AND sk <= :b")
                    .expression_attribute_values(":b", s(b)),
            };
            let out = q.send().await.map_err(classify)?;
            for mut item in out.items.unwrap_or_default() {
                if let Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) = item.remove("sk") {
                    self.buffer.push_back(sk);
                }
            }
            self.at_end = out.last_evaluated_key.is_none_or(|k| k.is_empty());
            // An empty page that is not the end (DynamoDB may stop early): seek again.
            if self.buffer.is_empty() && !self.at_end {
                return Box::pin(self.seek(store, bound, limit)).await;
            }
        }
        Ok(self.buffer.front().cloned())
    }
}

/// The candidates of one shard: the postings present in every list (a leapfrog join).
#[derive(Debug)]
struct Intersection {
    lists: Vec<ListCursor>,
    bound: Bound,
    finished: bool,
}

impl Intersection {
    fn new(shard: u32, grams: &[String], start: Bound) -> Self {
        Self {
            lists: grams
                .iter()
                .map(|g| ListCursor {
                    pk: posting_pk(shard, g),
                    buffer: VecDeque::new(),
                    at_end: false,
                })
                .collect(),
            bound: start,
            finished: false,
        }
    }

    /// Up to `want` further candidates, newest first (at least one unless finished).
    async fn next_candidates(
        &mut self,
        store: &Store,
        want: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        let single = self.lists.len() == 1;
        // One list: every posting is a candidate, read as many as wanted. Several: read in
        // small steps, since most postings of a common list are skipped.
        let limit = if single {
            want
        } else {
            want.clamp(MIN_SEEK_LIMIT, VERIFY_BATCH_MAX)
        };
        let mut out = Vec::new();
        while out.len() < want && !self.finished {
            let bound = self.bound.clone();
            let heads = futures_util::future::join_all(
                self.lists.iter_mut().map(|l| l.seek(store, &bound, limit)),
            )
            .await;
            let mut oldest: Option<String> = None;
            let mut all_equal = true;
            for head in heads {
                let Some(head) = head? else {
                    self.finished = true;
                    break;
                };
                match &oldest {
                    Some(o) if *o == head => {}
                    Some(o) => {
                        all_equal = false;
                        if head < *o {
                            oldest = Some(head);
                        }
                    }
                    None => oldest = Some(head),
                }
            }
            if self.finished {
                break;
            }
            let Some(oldest) = oldest else {
                self.finished = true;
                break;
            };
            if all_equal {
                if let Some((id, version)) = parse_posting_sk(&oldest) {
                    out.push(Candidate(id, version));
                }
                self.bound = Bound::Below(oldest);
            } else {
                self.bound = Bound::AtOrBelow(oldest);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_search_reads_its_own_posting_list() {
        assert_eq!(search_grams("a"), ["a"]);
        assert_eq!(search_grams("ab "), ["ab "]);
        assert_eq!(search_grams("日本語"), ["日本語"]);
    }

    #[test]
    fn a_long_search_reads_at_most_4_distinct_trigrams_first_and_last_included() {
        assert_eq!(search_grams("abcd"), ["abc", "bcd"]);
        assert_eq!(search_grams("aaaaaa"), ["aaa"]);
        let picked = search_grams("the quick brown fox");
        assert_eq!(picked.len(), MAX_TRIGRAM_LISTS);
        assert_eq!(picked.first().unwrap(), "the");
        assert_eq!(picked.last().unwrap(), "fox");
    }

    #[test]
    fn bounds_admit_what_lies_below_them() {
        assert!(Bound::Unbounded.admits("x"));
        assert!(Bound::Below("b".into()).admits("a"));
        assert!(!Bound::Below("b".into()).admits("b"));
        assert!(Bound::AtOrBelow("b".into()).admits("b"));
        // A cursor's bound (the padded id alone) is above no posting of that id.
        let bound = Bound::Below(format!("{:016}", 42));
        assert!(!bound.admits(&super::super::posting_sk(PostId::new(42), 1)));
        assert!(bound.admits(&super::super::posting_sk(PostId::new(41), 9)));
    }
}
