//! The house's floors, kept: no import circle among the files of `shared/src`, and each floor
//! imports only what lies below it.
//!
//! Every file is a module (`x.rs`, `x/mod.rs`); an edge goes from a file to the module each of
//! its `use` paths and `crate::` / `super::` / child-module paths names (inside macros too),
//! resolved to the longest module of the tree the path starts with. A parent that re-exports or
//! calls a child and a child that imports its parent make a circle like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// Which modules each floor may import (besides its own files and the standard library's).
const FLOORS: [(&str, &[&str]); 2] = [
    // The ground floor: data and pure rules.
    ("crate::model", &["crate::error"]),
    // All DynamoDB access, in terms of the model.
    ("crate::store", &["crate::model", "crate::error"]),
];

#[test]
fn shared_src_has_no_import_circle() {
    let graph = ModuleGraph::of_crate(&src_dir());
    let circles = graph.circles();
    assert!(
        circles.is_empty(),
        "import circles in shared/src:\n{}",
        circles
            .iter()
            .map(|circle| graph.describe(circle))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn each_floor_imports_only_what_lies_below_it() {
    let graph = ModuleGraph::of_crate(&src_dir());
    let mut problems = Vec::new();
    for (floor, allowed) in FLOORS {
        for ((from, to), via) in &graph.edges {
            let inside = |module: &str, root: &str| {
                module == root || module.starts_with(&format!("{root}::"))
            };
            if inside(from, floor)
                && !inside(to, floor)
                && !allowed.iter().any(|below| inside(to, below))
            {
                problems.push(format!("  {from} imports {to} ({via})"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "a floor imports from above:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_graph_reads_real_edges_and_finds_a_circle() {
    // Two files that import each other, one of them through a macro; a test module's `super`
    // and a crate outside are no edges.
    let graph = ModuleGraph::of_sources(&[
        ("crate", "pub mod a; pub mod b; pub mod c; pub use a::A;"),
        (
            "crate::a",
            "pub struct A; mod tests { use super::*; use std::fmt; }",
        ),
        (
            "crate::b",
            "use crate::a::{self, A}; fn f() { tracing::info!(x = %crate::c::g()); }",
        ),
        ("crate::c", "pub fn g() { super::b::f() }"),
    ]);
    let edges: BTreeSet<(&str, &str)> = graph
        .edges
        .keys()
        .map(|(from, to)| (from.as_str(), to.as_str()))
        .collect();
    assert_eq!(
        edges,
        BTreeSet::from([
            ("crate", "crate::a"),
            ("crate::b", "crate::a"),
            ("crate::b", "crate::c"),
            ("crate::c", "crate::b"),
        ])
    );
    let circles = graph.circles();
    assert_eq!(
        circles,
        vec![vec!["crate::b".to_string(), "crate::c".to_string()]]
    );
    // A child importing its parent is a circle when the parent imports the child.
    let nested = ModuleGraph::of_sources(&[
        ("crate", "pub mod store;"),
        ("crate::store", "mod keys; use keys::Key; pub struct Store;"),
        ("crate::store::keys", "use super::Store; pub type Key = ();"),
    ]);
    assert_eq!(nested.circles().len(), 1);
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module → the modules it imports, with one path that makes each edge (for the message).
struct ModuleGraph {
    modules: BTreeSet<String>,
    edges: BTreeMap<(String, String), String>,
}

impl ModuleGraph {
    /// Every `.rs` file under `src`, as the module it is.
    fn of_crate(src: &Path) -> Self {
        let mut sources = Vec::new();
        collect(src, src, &mut sources);
        let borrowed: Vec<(&str, &str)> = sources
            .iter()
            .map(|(module, text)| (module.as_str(), text.as_str()))
            .collect();
        Self::of_sources(&borrowed)
    }

    fn of_sources(sources: &[(&str, &str)]) -> Self {
        let modules: BTreeSet<String> = sources.iter().map(|(m, _)| m.to_string()).collect();
        let mut edges = BTreeMap::new();
        for (module, text) in sources {
            let file = syn::parse_file(text).unwrap_or_else(|err| panic!("{module}: {err}"));
            let mut paths = Paths {
                scope: vec![module.to_string()],
                found: Vec::new(),
            };
            paths.visit_file(&file);
            for (scope, path) in paths.found {
                let Some(absolute) = resolve(&scope, &path, &modules) else {
                    continue;
                };
                let target = longest_module(&absolute, &modules);
                if target != *module {
                    edges
                        .entry((module.to_string(), target))
                        .or_insert_with(|| path.join("::"));
                }
            }
        }
        Self { modules, edges }
    }

    /// The strongly connected components of more than one module, each sorted.
    fn circles(&self) -> Vec<Vec<String>> {
        let mut reaches: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for module in &self.modules {
            let mut seen = BTreeSet::new();
            let mut stack = vec![module.as_str()];
            while let Some(at) = stack.pop() {
                for (from, to) in self.edges.keys() {
                    if from == at && seen.insert(to.as_str()) {
                        stack.push(to);
                    }
                }
            }
            reaches.insert(module, seen);
        }
        let mut circles: BTreeSet<Vec<String>> = BTreeSet::new();
        for module in &self.modules {
            let circle: Vec<String> = self
                .modules
                .iter()
                .filter(|other| {
                    reaches[module.as_str()].contains(other.as_str())
                        && reaches[other.as_str()].contains(module.as_str())
                })
                .cloned()
                .collect();
            if circle.len() > 1 {
                circles.insert(circle);
            }
        }
        circles.into_iter().collect()
    }

    /// A circle with the edges inside it and the path behind each.
    fn describe(&self, circle: &[String]) -> String {
        let mut text = format!("  {}:", circle.join(", "));
        for ((from, to), via) in &self.edges {
            if circle.contains(from) && circle.contains(to) {
                text.push_str(&format!("\n    {from} -> {to} ({via})"));
            }
        }
        text
    }
}

fn collect(src: &Path, dir: &Path, sources: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read shared/src")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(src, &path, sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut segments: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
                segments.pop();
            }
            let module = std::iter::once("crate".to_string())
                .chain(segments)
                .collect::<Vec<_>>()
                .join("::");
            let text = std::fs::read_to_string(&path).expect("read a source file");
            sources.push((module, text));
        }
    }
}

/// `path` as seen from module `scope`, made absolute (`crate::…`); `None` for paths that leave
/// the crate (other crates, the standard library, local names).
fn resolve(scope: &str, path: &[String], modules: &BTreeSet<String>) -> Option<Vec<String>> {
    let mut absolute: Vec<String> = scope.split("::").map(str::to_string).collect();
    let mut rest = path;
    match path.first()?.as_str() {
        "crate" => {
            absolute.truncate(1);
            rest = &path[1..];
        }
        "self" => rest = &path[1..],
        "super" => {
            while rest.first().is_some_and(|segment| segment == "super") {
                absolute.pop();
                rest = &rest[1..];
            }
        }
        // A child module of the scope named without `self::` (`keys::PK` in `store`).
        first => {
            let child = format!("{scope}::{first}");
            if !modules.contains(&child) {
                return None;
            }
        }
    }
    absolute.extend(rest.iter().cloned());
    Some(absolute)
}

/// The longest module of the tree that `path` starts with.
fn longest_module(path: &[String], modules: &BTreeSet<String>) -> String {
    (1..=path.len())
        .rev()
        .map(|length| path[..length].join("::"))
        .find(|candidate| modules.contains(candidate))
        .unwrap_or_else(|| "crate".to_string())
}

/// Every path of a file, with the (inline) module it appears in.
struct Paths {
    scope: Vec<String>,
    found: Vec<(String, Vec<String>)>,
}

impl Paths {
    fn scope(&self) -> String {
        self.scope.join("::")
    }

    fn push(&mut self, path: Vec<String>) {
        if !path.is_empty() {
            self.found.push((self.scope(), path));
        }
    }

    /// Paths inside a macro's tokens: a `crate`, `super` or `self` followed by `::` segments.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(group) => self.scan_tokens(group.stream()),
                TokenTree::Ident(ident)
                    if ["crate", "super", "self"].contains(&&*ident.to_string()) =>
                {
                    let mut path = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.push(path);
                    }
                    i = j - 1;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// The paths a `use` tree names (a glob or `self` names the module before it).
fn use_paths(prefix: &[String], tree: &syn::UseTree, out: &mut Vec<Vec<String>>) {
    let with = |segment: String| {
        let mut path = prefix.to_vec();
        path.push(segment);
        path
    };
    match tree {
        syn::UseTree::Path(path) => use_paths(&with(path.ident.to_string()), &path.tree, out),
        syn::UseTree::Name(name) if name.ident == "self" => out.push(prefix.to_vec()),
        syn::UseTree::Name(name) => out.push(with(name.ident.to_string())),
        syn::UseTree::Rename(rename) => out.push(with(rename.ident.to_string())),
        syn::UseTree::Glob(_) => out.push(prefix.to_vec()),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                use_paths(prefix, tree, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.scope.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&[], &item.tree, &mut paths);
        for path in paths {
            self.push(path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            self.push(
                path.segments
                    .iter()
                    .map(|segment| segment.ident.to_string())
                    .collect(),
            );
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}
