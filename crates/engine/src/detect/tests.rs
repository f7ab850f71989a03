use super::lines::is_assignment;
use super::*;

/// One line of code and one of prose, weighing about the same (score 0.51). If the weights
/// change, find another such text.
const UNSURE_EXAMPLE: &str =
    "total = count + 1;\nThe total is kept for the whole session and is reset on the next call to it.\n";

fn kind(text: &str) -> ContentKind {
    detect(text).kind
}

#[test]
fn empty_and_short_are_unknown() {
    assert_eq!(kind(""), ContentKind::Unknown);
    assert_eq!(kind("   \n\n  "), ContentKind::Unknown);
    assert_eq!(kind("x = 1"), ContentKind::Unknown);
    assert_eq!(kind("Hello there."), ContentKind::Unknown);
    assert!(detect("ok").evidence[0].starts_with("too short"));
}

#[test]
fn rust_is_code() {
    let d = detect(
        "pub fn pool(values: &[f32]) -> Vec<f32> {\n    let mut out = Vec::with_capacity(values.len());\n    for v in values {\n        out.push(v * 2.0);\n    }\n    out\n}\n",
    );
    assert_eq!(d.kind, ContentKind::Code);
    assert_eq!(d.language, Some("rust"));
    assert!(d.code_score > 0.9, "{d:?}");
    assert!(d.evidence.iter().any(|e| e.contains("end with ; { or }")), "{:?}", d.evidence);
}

#[test]
fn python_is_code() {
    let d = detect(
        "def mean(values):\n    if not values:\n        return None\n    total = sum(values)\n    return total / len(values)\n",
    );
    assert_eq!(d.kind, ContentKind::Code);
    assert_eq!(d.language, Some("python"));
}

#[test]
fn c_is_code() {
    let d = detect(
        "#include <stdio.h>\n\nstatic int count_lines(const char *s)\n{\n    int n = 0;\n    while (*s)\n        if (*s++ == '\\n')\n            n++;\n    return n;\n}\n",
    );
    assert_eq!(d.kind, ContentKind::Code);
    assert_eq!(d.language, Some("c"));
}

#[test]
fn shell_is_code() {
    let d = detect(
        "#!/bin/sh\nset -e\nfor f in \"$@\"; do\n    if [ -f \"$f\" ]; then\n        echo \"$f\"\n    fi\ndone\n",
    );
    assert_eq!(d.kind, ContentKind::Code);
    assert_eq!(d.language, Some("shell"));
}

#[test]
fn sql_is_code() {
    let d = detect(
        "CREATE FUNCTION add_one(integer) RETURNS integer\n    AS 'SELECT $1 + 1'\n    LANGUAGE SQL IMMUTABLE STRICT;\n\nSELECT add_one(41);\n",
    );
    assert_eq!(d.kind, ContentKind::Code);
    assert_eq!(d.language, Some("sql"));
}

#[test]
fn perl_is_code() {
    let d = detect("sub greet {\n    my ($self, $name) = @_;\n    return unless defined $name;\n    print \"hello $name\\n\";\n}\n");
    assert_eq!(d.kind, ContentKind::Code);
    assert_eq!(d.language, Some("perl"));
}

#[test]
fn prose_is_doc() {
    let d = detect(
        "The extension computes embeddings inside the database. Each backend loads the model the\nfirst time it is needed, and keeps it until the memory limit says otherwise. You can\nchange the model with a setting, which takes effect for new sessions only.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc);
    assert_eq!(d.language, None);
    assert!(d.code_score < 0.1, "{d:?}");
}

#[test]
fn markdown_with_a_fenced_block_is_doc() {
    let d = detect(
        "## Getting started\n\nInstall the extension, then create it in the database where you want\nto use it. The function takes a text and returns a vector:\n\n```sql\nCREATE EXTENSION pg_embed;\nSELECT embed_doc('hello world');\nSELECT count(*) FROM items WHERE embedding IS NULL;\n```\n\nThe first call in a session is slower because the model is loaded then.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    assert!(d.evidence.iter().any(|e| e.contains("fences")));
}

#[test]
fn snippet_starting_inside_a_fence_is_doc() {
    let d = detect(
        "    let x = compute(&input)?;\n    println!(\"{x}\");\n```\n\nThe question mark returns early when the computation fails, which is why the\nfunction itself has to return a result. See the chapter on errors for the details\nof how the conversion between error types works.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
}

#[test]
fn a_lone_fenced_block_is_code() {
    let d = detect("```rust\nfn main() {\n    let v = vec![1, 2, 3];\n    println!(\"{}\", v.len());\n}\n```\n");
    assert_eq!(d.kind, ContentKind::Code, "{d:?}");
    assert_eq!(d.language, Some("rust"));
}

#[test]
fn commented_code_is_code() {
    let d = detect(
        "/*\n * Returns the number of entries in the cache that are older than the\n * given age, so that the caller can decide whether to evict them.\n */\nstatic size_t count_old(const struct cache *c, time_t age)\n{\n    size_t n = 0;\n    for (size_t i = 0; i < c->len; i++)\n        n += c->items[i].stamp < age;\n    return n;\n}\n",
    );
    assert_eq!(d.kind, ContentKind::Code, "{d:?}");
}

#[test]
fn changelog_is_doc() {
    let d = detect(
        "pg-embed (0.2.0-1) unstable; urgency=medium\n\n  * New upstream release.\n  * Build against the newer runtime, which fixes a crash on start-up.\n  * Drop the patch for the test suite; it was merged upstream.\n\n -- Jane Doe <jane@example.org>  Tue, 25 Nov 2025 10:00:00 +0000\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
}

#[test]
fn man_page_text_is_doc() {
    let d = detect(
        "OPTIONS\n       -v, --verbose\n              Print the name of each file as it is processed, and a summary of\n              the work done at the end.\n\n       -n, --dry-run\n              Show what would be done, but do not change any file.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
}

#[test]
fn javascript_go_java_and_cpp_are_named() {
    let js = detect(
        "const path = require('path');\n\nfunction resolve(base, name) {\n  if (name === undefined) {\n    return null;\n  }\n  return path.join(base, name);\n}\n",
    );
    assert_eq!((js.kind, js.language), (ContentKind::Code, Some("javascript")), "{js:?}");
    let go = detect(
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tnames := []string{\"a\", \"b\"}\n\tfor _, n := range names {\n\t\tfmt.Println(n)\n\t}\n}\n",
    );
    assert_eq!((go.kind, go.language), (ContentKind::Code, Some("go")), "{go:?}");
    let java = detect(
        "public class Greeter implements Runnable {\n    private final String name;\n\n    @Override\n    public void run() {\n        System.out.println(\"hello \" + name);\n    }\n}\n",
    );
    assert_eq!((java.kind, java.language), (ContentKind::Code, Some("java")), "{java:?}");
    let cpp = detect(
        "namespace util {\ntemplate <typename T>\nstd::vector<T> twice(const std::vector<T>& v) {\n    std::vector<T> out(v);\n    out.insert(out.end(), v.begin(), v.end());\n    return out;\n}\n}\n",
    );
    assert_eq!((cpp.kind, cpp.language), (ContentKind::Code, Some("cpp")), "{cpp:?}");
}

#[test]
fn restructured_text_with_examples_is_doc() {
    let d = detect(
        "Reading files\n-------------\n\nThe :func:`open` function returns a file object, which is most commonly\nused with two arguments. For example::\n\n   with open('workfile', encoding='utf-8') as f:\n       data = f.read()\n\n>>> f.closed\nTrue\n\nIt is good practice to use the :keyword:`with` keyword when dealing with\nfile objects.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    assert!(d.evidence.iter().any(|e| e.contains("markup")), "{:?}", d.evidence);
}

#[test]
fn pod_is_doc_but_perl_with_pod_is_code() {
    let pod = detect(
        "=head1 DESCRIPTION\n\nThis module reads the configuration file and returns a hash of the settings\nthat it finds. See L<perlfunc/open> for the details of how files are opened.\n\n    my %conf = read_config($file);\n\n=cut\n",
    );
    assert_eq!(pod.kind, ContentKind::Doc, "{pod:?}");
    let module = detect(
        "=head2 read_config\n\nReturns the settings as a hash reference.\n\n=cut\n\nsub read_config {\n    my ($file) = @_;\n    open(my $fh, '<', $file) or die \"cannot open $file: $!\";\n    my %conf;\n    while (my $line = <$fh>) {\n        next if $line =~ /^#/;\n        $conf{$1} = $2 if $line =~ /^(\\w+)\\s*=\\s*(.*)$/;\n    }\n    return \\%conf;\n}\n",
    );
    assert_eq!((module.kind, module.language), (ContentKind::Code, Some("perl")), "{module:?}");
}

#[test]
fn python_snippet_that_starts_inside_a_docstring_is_code() {
    let d = detect(
        "    The result is cached, so later calls are cheap and the file is read\n    only once per process.\n    \"\"\"\n    if path in _cache:\n        return _cache[path]\n    with open(path) as f:\n        value = f.read()\n    _cache[path] = value\n    return value\n",
    );
    assert_eq!((d.kind, d.language), (ContentKind::Code, Some("python")), "{d:?}");
    assert!(d.evidence.iter().any(|e| e.contains("docstrings")), "{:?}", d.evidence);
}

#[test]
fn shell_with_a_here_document_is_code() {
    let d = detect(
        "if [ $# -lt 1 ]; then\n    cat >&2 <<EOF\nUsage: $0 FILE\n\nThis script copies the file to the backup directory and keeps the\nlast seven copies, deleting older ones.\nEOF\n    exit 1\nfi\ncp \"$1\" \"$BACKUP_DIR/\"\n",
    );
    assert_eq!((d.kind, d.language), (ContentKind::Code, Some("shell")), "{d:?}");
}

#[test]
fn manual_page_references_and_urls_are_not_code() {
    let d = detect(
        "SEE ALSO\n       malloc(3), free(3), mmap(2), proc(5)\n\n       The project's home page is https://example.org/projects/alloc/index.html and\n       the mailing list archive is at https://lists.example.org/alloc/.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
}

#[test]
fn a_table_of_names_with_no_verbs_is_not_forced_to_code() {
    let d = detect(
        "NAME\n       pg_embed - embeddings inside PostgreSQL\n\nDESCRIPTION\n       Computes vectors for texts.\n",
    );
    assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
}

#[test]
fn a_text_split_down_the_middle_is_unknown() {
    let d = detect(UNSURE_EXAMPLE);
    assert_eq!(d.kind, ContentKind::Unknown, "{d:?}");
    assert!((d.code_score - 0.5).abs() < UNSURE);
    assert!(d.evidence.iter().any(|e| e == "too close to call"));
}

#[test]
fn is_deterministic_and_labels_are_stable() {
    let text = "fn main() { println!(\"hi\"); }\nfn other() { let x = 1; }\n";
    assert_eq!(detect(text), detect(text));
    assert_eq!(ContentKind::Code.as_str(), "code");
    assert_eq!(ContentKind::Doc.as_str(), "doc");
    assert_eq!(ContentKind::Unknown.as_str(), "unknown");
}

#[test]
fn long_text_is_clipped_on_a_line_boundary() {
    let text = "The cache keeps the most recently used models and drops the others.\n".repeat(1000);
    let d = detect(&text);
    assert_eq!(d.kind, ContentKind::Doc);
    assert_eq!(clip("ab\ncd", 4), "ab");
    assert_eq!(clip("é", 1), "");
}

#[test]
fn assignments() {
    assert!(is_assignment(b"x = 1"));
    assert!(is_assignment(b"self.items[i] += 2"));
    assert!(is_assignment(b"my $name = shift;"));
    assert!(is_assignment(b"let mut total: u32 = 0;"));
    assert!(is_assignment(b"PATH=/usr/bin:$PATH"));
    assert!(!is_assignment(b"if x == 1:"));
    assert!(!is_assignment(b"The value = 3 here"));
    assert!(!is_assignment(b"--keyring=KEYRING"));
}
