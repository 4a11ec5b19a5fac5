//! Rules: the one language for topic definitions, `?q=` searches and
//! `kurator query`.
//!
//! * [`parser`]: words, `"phrases"`, `prefix*`, `/regex/`, `AND` (implicit),
//!   `OR`, `NOT`/`-`, parentheses, and `field:` prefixes; errors carry a column.
//! * `fold`: German-aware folding (`ä`=`ae`, `ß`=`ss`, case-insensitive).
//! * [`matcher`]: evaluates a rule against an item prepared once as a [`Document`]
//!   (for `kurator query` and `kurator explain`).
//! * [`compiled`]: all topics at once, for tagging at ingest: one pass over an
//!   item's words through a trie of every topic's words.
//! * [`markup`]: what rules see of sanitized HTML.
//! * [`TopicSet`]: the configured topics, compiled once, in an order where a
//!   topic that refers to another through `tag:` is evaluated after it;
//!   cycles are refused at load.

mod blocks;
pub mod compiled;
pub mod markup;
pub mod matcher;
pub mod parser;

pub use compiled::ItemFields;
pub use matcher::{Document, DocumentFields, Hit};
pub use parser::{Expr, Field, Pattern, RuleError, Term};

/// A compiled rule and its text.
#[derive(Debug, Clone)]
pub struct Rule {
    pub text: String,
    pub expr: Expr,
}

impl Rule {
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        Ok(Rule {
            text: text.to_owned(),
            expr: parser::parse(text)?,
        })
    }

    pub fn matches(&self, doc: &Document) -> bool {
        matcher::matches(&self.expr, doc)
    }

    /// The terms that hit, and where (for explanations).
    pub fn hits(&self, doc: &Document) -> Vec<Hit> {
        matcher::hits(&self.expr, doc)
    }
}

/// One topic, compiled.
#[derive(Debug, Clone)]
pub struct Topic {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub rule: Rule,
}

/// Topics that refer to each other through `tag:` in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCycle {
    /// The slugs along the cycle, the first repeated at the end.
    pub path: Vec<String>,
}

impl std::fmt::Display for TagCycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "topics refer to each other through tag: in a cycle: {}",
            self.path.join(" → ")
        )
    }
}

/// The configured topics, ready to tag items.
#[derive(Debug, Clone, Default)]
pub struct TopicSet {
    /// In evaluation order: every topic after those its rule refers to.
    topics: Vec<Topic>,
    /// The same topics, compiled for [`TopicSet::tag_item`].
    compiled: compiled::Compiled,
}

impl TopicSet {
    /// Orders `topics` so that `tag:` references are evaluated first.
    pub fn new(topics: Vec<Topic>) -> Result<TopicSet, TagCycle> {
        let slugs: Vec<Vec<String>> = topics.iter().map(|t| crate::fold::words(&t.slug)).collect();
        let dependencies: Vec<Vec<usize>> = topics
            .iter()
            .map(|topic| {
                let mut deps = Vec::new();
                tag_terms(&topic.rule.expr, &mut |pattern| {
                    for (index, slug_words) in slugs.iter().enumerate() {
                        let refers = match pattern {
                            Pattern::Words(words) => words == slug_words,
                            Pattern::Prefix(words) => {
                                slug_words.join(" ").starts_with(&words.join(" "))
                            }
                            Pattern::Regex(regex) => regex.is_match(&topics[index].slug),
                        };
                        if refers && !deps.contains(&index) {
                            deps.push(index);
                        }
                    }
                });
                deps
            })
            .collect();

        // Depth-first topological sort; a node met again while on the stack is a cycle.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            node: usize,
            dependencies: &[Vec<usize>],
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
            order: &mut Vec<usize>,
        ) -> Result<(), Vec<usize>> {
            match marks[node] {
                Mark::Done => return Ok(()),
                Mark::Active => {
                    let start = stack.iter().position(|&n| n == node).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(node);
                    return Err(cycle);
                }
                Mark::New => {}
            }
            marks[node] = Mark::Active;
            stack.push(node);
            for &dep in &dependencies[node] {
                visit(dep, dependencies, marks, stack, order)?;
            }
            stack.pop();
            marks[node] = Mark::Done;
            order.push(node);
            Ok(())
        }
        let mut marks = vec![Mark::New; topics.len()];
        let mut order = Vec::with_capacity(topics.len());
        for node in 0..topics.len() {
            visit(node, &dependencies, &mut marks, &mut Vec::new(), &mut order).map_err(
                |cycle| TagCycle {
                    path: cycle.into_iter().map(|i| topics[i].slug.clone()).collect(),
                },
            )?;
        }
        let mut slots: Vec<Option<Topic>> = topics.into_iter().map(Some).collect();
        let topics: Vec<Topic> = order.into_iter().filter_map(|i| slots[i].take()).collect();
        Ok(TopicSet {
            compiled: compiled::Compiled::new(&topics),
            topics,
        })
    }

    /// Topics in evaluation order.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    pub fn get(&self, slug: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.slug == slug)
    }

    /// The slugs of every topic `doc` matches; each matched slug is added to
    /// the document's tags as it is found, for the topics that refer to it.
    pub fn tag(&self, doc: &mut Document) -> Vec<&str> {
        let mut matched = Vec::new();
        for topic in &self.topics {
            if topic.rule.matches(doc) {
                doc.add_tag(&topic.slug);
                matched.push(topic.slug.as_str());
            }
        }
        matched
    }

    /// The slugs of every topic `item` matches, in evaluation order: the same
    /// as [`TopicSet::tag`] on the item's `Document`, many times faster.
    pub fn tag_item(&self, item: &ItemFields<'_>) -> Vec<&str> {
        let mut matched = Vec::new();
        self.for_each_match(item, |slug| matched.push(slug));
        matched
    }

    /// Calls `found` with the slug of every topic `item` matches, in
    /// evaluation order (as [`TopicSet::tag_item`] lists them).
    pub fn for_each_match<'a>(&'a self, item: &ItemFields<'_>, mut found: impl FnMut(&'a str)) {
        self.compiled
            .matching(item, |index| found(self.topics[index].slug.as_str()));
    }
}

/// Every term of `expr` that looks at `field` (`source:`, `tag:`), in the
/// order written: `kurator check` warns about the names nothing carries.
pub fn terms_of(expr: &Expr, field: Field) -> Vec<&Term> {
    fn walk<'e>(expr: &'e Expr, field: Field, found: &mut Vec<&'e Term>) {
        match expr {
            Expr::Term(term) if term.field == field => found.push(term),
            Expr::Term(_) => {}
            Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| walk(p, field, found)),
            Expr::Not(inner) => walk(inner, field, found),
        }
    }
    let mut found = Vec::new();
    walk(expr, field, &mut found);
    found
}

/// Whether a `source:` or `tag:` term takes `value` (a source id or tag),
/// as matching does: the whole value, or its start with `*`.
pub fn names_value(term: &Term, value: &str) -> bool {
    matcher::whole_value(&term.pattern, &crate::fold::fold(value.trim()))
}

/// Calls `found` with the pattern of every `tag:` term in `expr`.
fn tag_terms(expr: &Expr, found: &mut impl FnMut(&Pattern)) {
    match expr {
        Expr::Term(term) if term.field == Field::Tag => found(&term.pattern),
        Expr::Term(_) => {}
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| tag_terms(p, found)),
        Expr::Not(inner) => tag_terms(inner, found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(slug: &str, rule: &str) -> Topic {
        Topic {
            slug: slug.into(),
            title: slug.into(),
            description: None,
            rule: Rule::parse(rule).unwrap(),
        }
    }

    fn doc(title: &str) -> Document {
        Document::new(&DocumentFields {
            title,
            source: "s",
            ..Default::default()
        })
    }

    #[test]
    fn topics_referring_to_topics_are_evaluated_after_them() {
        let set = TopicSet::new(vec![
            topic("kommunal-digital", "tag:digitalisierung AND kommune*"),
            topic("digitalisierung", "digital* OR ozg"),
        ])
        .unwrap();
        assert_eq!(set.topics()[0].slug, "digitalisierung");
        let mut document = doc("Kommunen treiben die Digitalisierung voran");
        assert_eq!(
            set.tag(&mut document),
            vec!["digitalisierung", "kommunal-digital"]
        );
        let mut other = doc("Kommunen bauen Radwege");
        assert!(set.tag(&mut other).is_empty());
    }

    #[test]
    fn cycles_are_refused() {
        let err = TopicSet::new(vec![
            topic("a", "tag:b OR x"),
            topic("b", "tag:c"),
            topic("c", "tag:a"),
        ])
        .unwrap_err();
        assert_eq!(err.path, vec!["a", "b", "c", "a"]);
        assert!(err.to_string().contains("a → b → c → a"));
        let err = TopicSet::new(vec![topic("self", "tag:self")]).unwrap_err();
        assert_eq!(err.path, vec!["self", "self"]);
    }
}
