//! A small lexer over Rhai source for the static checks the Rhai engine does not
//! do: which reward-state fields `compute_reward` reads, and the order in which
//! the program names its components.
//!
//! It only needs to be right on programs that parse (it runs after Rhai accepted
//! the source), and it never fails: unknown characters are skipped.

/// A token with its 1-based position.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// Token kinds the checks care about.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword.
    Ident(String),
    /// A string literal (`"…"` only; its unescaped text is not needed exactly).
    Str(String),
    /// A number, a character or a back-tick string: opaque.
    Other,
    /// `#{`, the start of an object-map literal.
    MapStart,
    /// `==`, `!=`, `<=`, `>=`, `+=`, … (anything ending in `=` but a lone `=`).
    OpAssignOrCompare,
    /// A single punctuation character.
    Punct(char),
}

/// Splits `src` into tokens, skipping whitespace and comments.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    let advance = |i: &mut usize, line: &mut u32, col: &mut u32, chars: &[char]| {
        if chars[*i] == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        let (tl, tc) = (line, col);
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, &chars);
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col, &chars);
            }
        } else if c == '/' && next == Some('*') {
            // Rhai block comments nest.
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    advance(&mut i, &mut line, &mut col, &chars);
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    advance(&mut i, &mut line, &mut col, &chars);
                    advance(&mut i, &mut line, &mut col, &chars);
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                advance(&mut i, &mut line, &mut col, &chars);
            }
        } else if c == '"' || c == '`' || c == '\'' {
            let mut text = String::new();
            advance(&mut i, &mut line, &mut col, &chars);
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    advance(&mut i, &mut line, &mut col, &chars);
                }
                text.push(chars[i]);
                advance(&mut i, &mut line, &mut col, &chars);
            }
            if i < chars.len() {
                advance(&mut i, &mut line, &mut col, &chars);
            }
            let kind = if c == '"' { Tok::Str(text) } else { Tok::Other };
            out.push(Token {
                kind,
                line: tl,
                column: tc,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut text = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                text.push(chars[i]);
                advance(&mut i, &mut line, &mut col, &chars);
            }
            out.push(Token {
                kind: Tok::Ident(text),
                line: tl,
                column: tc,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len() {
                let d = chars[i];
                let exp_sign = (d == '+' || d == '-')
                    && i > 0
                    && matches!(chars[i - 1], 'e' | 'E')
                    && !matches!(chars.get(i.wrapping_sub(2)), Some('x' | 'X'));
                let dot = d == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if d.is_ascii_alphanumeric() || d == '_' || dot || exp_sign {
                    advance(&mut i, &mut line, &mut col, &chars);
                } else {
                    break;
                }
            }
            out.push(Token {
                kind: Tok::Other,
                line: tl,
                column: tc,
            });
        } else if c == '#' && next == Some('{') {
            advance(&mut i, &mut line, &mut col, &chars);
            advance(&mut i, &mut line, &mut col, &chars);
            out.push(Token {
                kind: Tok::MapStart,
                line: tl,
                column: tc,
            });
        } else if next == Some('=') && "=!<>+-*/%&|^".contains(c) {
            advance(&mut i, &mut line, &mut col, &chars);
            advance(&mut i, &mut line, &mut col, &chars);
            out.push(Token {
                kind: Tok::OpAssignOrCompare,
                line: tl,
                column: tc,
            });
        } else {
            advance(&mut i, &mut line, &mut col, &chars);
            out.push(Token {
                kind: Tok::Punct(c),
                line: tl,
                column: tc,
            });
        }
    }
    out
}

fn is_ident(t: Option<&Token>, name: &str) -> bool {
    matches!(t, Some(Token { kind: Tok::Ident(n), .. }) if n == name)
}

fn is_punct(t: Option<&Token>, p: char) -> bool {
    matches!(t, Some(Token { kind: Tok::Punct(c), .. }) if *c == p)
}

/// The token range `[start, end)` of the body of `fn name(...) { … }`.
fn function_body(tokens: &[Token], name: &str) -> Option<(usize, usize)> {
    let at = tokens
        .windows(2)
        .position(|w| is_ident(Some(&w[0]), "fn") && is_ident(Some(&w[1]), name))?;
    let open = (at..tokens.len()).find(|&i| is_punct(tokens.get(i), '{'))?;
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t.kind {
            Tok::Punct('{') | Tok::MapStart => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return Some((open + 1, i));
                }
            }
            _ => {}
        }
    }
    Some((open + 1, tokens.len()))
}

/// A property read `param.name` found in `compute_reward`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldAccess {
    /// The parameter (`s` or `prev`, as the program names them).
    pub(crate) param: String,
    /// The property read.
    pub(crate) field: String,
    /// Position of the property name.
    pub(crate) line: u32,
    /// Position of the property name.
    pub(crate) column: u32,
}

/// Every `p.field` read inside `fn compute_reward`, where `p` is one of `params`
/// and is not re-bound by `let`/`const` or a closure parameter in the body.
/// Method calls (`p.name(...)`) are not property reads and are skipped.
pub(crate) fn field_accesses(tokens: &[Token], params: &[&str]) -> Vec<FieldAccess> {
    let Some((start, end)) = function_body(tokens, "compute_reward") else {
        return Vec::new();
    };
    let body = &tokens[start..end];
    let rebound = |p: &str| {
        body.windows(2).any(|w| {
            (is_ident(Some(&w[0]), "let") || is_ident(Some(&w[0]), "const"))
                && is_ident(Some(&w[1]), p)
        }) || body
            .windows(2)
            .any(|w| is_punct(Some(&w[0]), '|') && is_ident(Some(&w[1]), p))
    };
    let live: Vec<&str> = params.iter().copied().filter(|p| !rebound(p)).collect();
    property_reads(body, &live)
}

/// Every `x.name` or `x?.name` read in `body` where `x` is one of `names` and
/// is not itself a property (`a.x.name`); method calls are skipped.
fn property_reads(body: &[Token], names: &[&str]) -> Vec<FieldAccess> {
    let mut out = Vec::new();
    for i in 0..body.len() {
        let Tok::Ident(name) = &body[i].kind else {
            continue;
        };
        if !names.contains(&name.as_str()) || (i > 0 && is_punct(body.get(i - 1), '.')) {
            continue;
        }
        let mut j = i + 1;
        if is_punct(body.get(j), '?') {
            j += 1;
        }
        if !is_punct(body.get(j), '.') {
            continue;
        }
        if let Some(read) = read_after_dot(body, j, name.clone()) {
            out.push(read);
        }
    }
    out
}

/// The property read `.name` whose dot is at `dot`, unless it is a method call.
fn read_after_dot(body: &[Token], dot: usize, param: String) -> Option<FieldAccess> {
    let Some(Token {
        kind: Tok::Ident(field),
        line,
        column,
    }) = body.get(dot + 1)
    else {
        return None;
    };
    if is_punct(body.get(dot + 2), '(') {
        return None;
    }
    Some(FieldAccess {
        param,
        field: field.clone(),
        line: *line,
        column: *column,
    })
}

/// What the body of a fitness program's entry point (`fn fitness(episode)`,
/// `fn success(episode)`) reads, as far as the source shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct EpisodeReads {
    /// `episode.name` reads of the episode map (`param` is the parameter's name).
    pub(crate) episode: Vec<FieldAccess>,
    /// Reads of one step's reward-state field: `s.name` where `s` is bound to
    /// an element of the steps array only, or `episode.steps[…].name` (`param`
    /// is `s`, or `episode.steps[…]`).
    pub(crate) state: Vec<FieldAccess>,
}

/// How a name is bound inside a function body.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Binding {
    /// `let`/`const name = …`; the index where the value starts, if there is one.
    Let(Option<usize>),
    /// `for name in …` (slot 0) or `for (name, i) in …` (slot 0 or 1); the
    /// index where the iterable starts.
    For { iter: usize, slot: usize },
    /// A closure parameter in slot `slot`; the index of the opening `|`.
    Closure { open: usize, slot: usize },
}

/// Every name bound in `body`, with how it is bound.
fn bindings(body: &[Token]) -> Vec<(String, Binding)> {
    let ident = |i: usize| match body.get(i) {
        Some(Token {
            kind: Tok::Ident(n),
            ..
        }) => Some(n.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    for i in 0..body.len() {
        if is_ident(body.get(i), "let") || is_ident(body.get(i), "const") {
            if let Some(n) = ident(i + 1) {
                let value = is_punct(body.get(i + 2), '=').then_some(i + 3);
                out.push((n, Binding::Let(value)));
            }
        } else if is_ident(body.get(i), "for") {
            if let (Some(n), true) = (ident(i + 1), is_ident(body.get(i + 2), "in")) {
                out.push((
                    n,
                    Binding::For {
                        iter: i + 3,
                        slot: 0,
                    },
                ));
            } else if is_punct(body.get(i + 1), '(') {
                // `for (a, b) in`: record each name, whatever follows.
                let mut j = i + 2;
                let mut slot = 0;
                while let Some(n) = ident(j) {
                    let close = (j + 1..body.len()).find(|&k| is_punct(body.get(k), ')'));
                    let iter = close.filter(|&k| is_ident(body.get(k + 1), "in"));
                    out.push((
                        n,
                        Binding::For {
                            iter: iter.map_or(usize::MAX, |k| k + 2),
                            slot,
                        },
                    ));
                    if !is_punct(body.get(j + 1), ',') {
                        break;
                    }
                    j += 2;
                    slot += 1;
                }
            }
        } else if is_punct(body.get(i), '|')
            && (i == 0
                || matches!(
                    body.get(i - 1).map(|t| &t.kind),
                    Some(Tok::Punct('(' | ',' | '=' | '{' | ';'))
                ))
        {
            // A closure's parameter list: `|a, b|`.
            let mut j = i + 1;
            let mut slot = 0;
            while let Some(n) = ident(j) {
                out.push((n, Binding::Closure { open: i, slot }));
                if !is_punct(body.get(j + 1), ',') {
                    break;
                }
                j += 2;
                slot += 1;
            }
        }
    }
    out
}

/// The index of the bracket closing the one opened at `open`.
fn matching(body: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in body.iter().enumerate().skip(open) {
        match t.kind {
            Tok::Punct('(' | '[' | '{') | Tok::MapStart => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Array methods whose closure gets elements of the array, with the
/// parameter slots that receive an element.
fn element_slots(method: &str) -> &'static [usize] {
    match method {
        "map" | "filter" | "all" | "any" | "some" | "find" | "find_map" | "index_of" | "drain"
        | "retain" | "for_each" => &[0],
        "reduce" | "reduce_rev" => &[1],
        "sort" | "dedup" => &[0, 1],
        _ => &[],
    }
}

/// Reads of the episode and of its steps' states inside `fn fn_name(param)`.
///
/// A name counts as a step's state only when **every** binding of it in the
/// body binds an element of the steps array: `for s in episode.steps`,
/// `let s = episode.steps[i];`, a closure parameter of `episode.steps.map(|s| …)`
/// (and the other element-wise array methods); `episode.steps` may also go
/// through an alias bound only by `let steps = episode.steps;`. Names bound in
/// any other way are not checked, and neither is an episode parameter that the
/// body re-binds, so the scan has no false alarms on programs it cannot follow.
pub(crate) fn episode_reads(tokens: &[Token], fn_name: &str, param: &str) -> EpisodeReads {
    let Some((start, end)) = function_body(tokens, fn_name) else {
        return EpisodeReads::default();
    };
    let body = &tokens[start..end];
    let binds = bindings(body);
    if binds.iter().any(|(n, _)| n == param) {
        return EpisodeReads::default();
    }
    let only = |name: &str, ok: &dyn Fn(Binding) -> bool| {
        binds.iter().filter(|(n, _)| n == name).all(|&(_, b)| ok(b))
    };
    // The end (exclusive) of a steps-array expression starting at `i`.
    let steps_end = |i: usize, aliases: &[String]| -> Option<usize> {
        let Some(Tok::Ident(n)) = body.get(i).map(|t| &t.kind) else {
            return None;
        };
        if i > 0 && is_punct(body.get(i - 1), '.') {
            return None;
        }
        if n == param {
            let dot = if is_punct(body.get(i + 1), '?') {
                i + 2
            } else {
                i + 1
            };
            (is_punct(body.get(dot), '.') && is_ident(body.get(dot + 1), "steps"))
                .then_some(dot + 2)
        } else {
            aliases.contains(n).then_some(i + 1)
        }
    };

    // Aliases of the steps array, to a fixed point (`let a = episode.steps; let b = a;`).
    let mut aliases: Vec<String> = Vec::new();
    loop {
        let found: Vec<String> = binds
            .iter()
            .map(|(n, _)| n)
            .filter(|n| *n != param && !aliases.contains(n))
            .filter(|n| {
                only(n, &|b| match b {
                    Binding::Let(Some(v)) => {
                        steps_end(v, &aliases).is_some_and(|e| is_punct(body.get(e), ';'))
                    }
                    _ => false,
                })
            })
            .cloned()
            .collect();
        if found.is_empty() {
            break;
        }
        for n in found {
            if !aliases.contains(&n) {
                aliases.push(n);
            }
        }
    }

    let ends: Vec<(usize, usize)> = (0..body.len())
        .filter_map(|i| steps_end(i, &aliases).map(|e| (i, e)))
        .collect();
    let is_steps_end = |e: usize| ends.iter().any(|&(_, x)| x == e);
    let element = |b: Binding| match b {
        Binding::Let(Some(v)) => steps_end(v, &aliases).is_some_and(|e| {
            is_punct(body.get(e), '[')
                && matching(body, e).is_some_and(|c| is_punct(body.get(c + 1), ';'))
        }),
        Binding::For { iter, slot } => {
            slot == 0 && steps_end(iter, &aliases).is_some_and(|e| is_punct(body.get(e), '{'))
        }
        Binding::Closure { open, slot } => {
            open >= 3
                && is_punct(body.get(open - 1), '(')
                && is_punct(body.get(open - 3), '.')
                && matches!(&body[open - 2].kind, Tok::Ident(m) if element_slots(m).contains(&slot))
                && is_steps_end(open - 3)
        }
        Binding::Let(None) => false,
    };
    let mut states: Vec<&str> = Vec::new();
    for (n, _) in &binds {
        if n != param && !aliases.contains(n) && !states.contains(&n.as_str()) && only(n, &element)
        {
            states.push(n);
        }
    }

    let mut state = property_reads(body, &states);
    for &(i, e) in &ends {
        if !is_punct(body.get(e), '[') {
            continue;
        }
        let Some(close) = matching(body, e) else {
            continue;
        };
        if !is_punct(body.get(close + 1), '.') {
            continue;
        }
        let head = if e == i + 1 {
            match &body[i].kind {
                Tok::Ident(a) => a.clone(),
                _ => continue,
            }
        } else {
            format!("{param}.steps")
        };
        if let Some(read) = read_after_dot(body, close + 1, format!("{head}[…]")) {
            state.push(read);
        }
    }
    state.sort_by_key(|r| (r.line, r.column));
    EpisodeReads {
        episode: property_reads(body, &[param]),
        state,
    }
}

/// A key of an object-map literal, with the span of its value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct KeySite {
    /// The key.
    pub(crate) name: String,
    /// Position where the key's value starts (just after the `:`).
    pub(crate) start: (u32, u32),
    /// Position of the `,` or `}` that ends the value.
    pub(crate) end: (u32, u32),
}

/// Names as they first appear as object-map keys (`#{ name: … }`) or as targets
/// of a property assignment (`m.name = …`, `m["name"] = …`), in source order,
/// without repeats; and every map-literal key with its value's span.
pub(crate) fn key_order(tokens: &[Token]) -> (Vec<String>, Vec<KeySite>) {
    let mut order: Vec<String> = Vec::new();
    let mut sites = Vec::new();
    let push = |order: &mut Vec<String>, n: &str| {
        if !order.iter().any(|o| o == n) {
            order.push(n.to_string());
        }
    };
    for i in 0..tokens.len() {
        match &tokens[i].kind {
            Tok::MapStart => {
                // Walk this literal's top level: `key: value, key: value }`.
                let mut depth = 0usize;
                let mut expect_key = true;
                let mut open: Option<(String, (u32, u32))> = None;
                let mut j = i + 1;
                while j < tokens.len() {
                    let t = &tokens[j];
                    match &t.kind {
                        Tok::Punct('(' | '[' | '{') | Tok::MapStart => depth += 1,
                        Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
                        Tok::Punct('}') if depth > 0 => depth -= 1,
                        Tok::Punct('}') | Tok::Punct(',') if depth == 0 => {
                            if let Some((name, start)) = open.take() {
                                sites.push(KeySite {
                                    name,
                                    start,
                                    end: (t.line, t.column),
                                });
                            }
                            if t.kind == Tok::Punct('}') {
                                break;
                            }
                            expect_key = true;
                        }
                        Tok::Ident(k) | Tok::Str(k) if depth == 0 && expect_key => {
                            if let Some(colon) =
                                tokens.get(j + 1).filter(|c| c.kind == Tok::Punct(':'))
                            {
                                push(&mut order, k);
                                open = Some((k.clone(), (colon.line, colon.column + 1)));
                                j += 1;
                            }
                            expect_key = false;
                        }
                        _ => expect_key = false,
                    }
                    j += 1;
                }
            }
            Tok::Punct('.') => {
                if let (
                    Some(Token {
                        kind: Tok::Ident(k),
                        ..
                    }),
                    true,
                ) = (tokens.get(i + 1), is_punct(tokens.get(i + 2), '='))
                {
                    push(&mut order, k);
                }
            }
            Tok::Punct('[') => {
                if let (
                    Some(Token {
                        kind: Tok::Str(k), ..
                    }),
                    true,
                    true,
                ) = (
                    tokens.get(i + 1),
                    is_punct(tokens.get(i + 2), ']'),
                    is_punct(tokens.get(i + 3), '='),
                ) {
                    push(&mut order, k);
                }
            }
            _ => {}
        }
    }
    (order, sites)
}

/// The component whose value expression (in a map literal) contains the
/// position, if any: the innermost (last-starting) span that contains it.
pub(crate) fn component_at(sites: &[KeySite], line: u32, column: u32) -> Option<&str> {
    let p = (line, column);
    sites
        .iter()
        .filter(|s| s.start <= p && p < s.end)
        .max_by_key(|s| s.start)
        .map(|s| s.name.as_str())
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The candidate closest to `name`, if close enough to be a likely typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, c)| d <= 2.max(c.len() / 4) && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_source_order_across_literals_and_assignments() {
        let src = r#"
            fn helper() { #{ zeta: 1.0 } }
            fn compute_reward(s, prev) {
                let r = #{ speed: s.v[0], alive: 1.0, nested: #{ inner: 2 }.inner };
                r.energy = -0.1; // comment with #{ fake: 1 }
                r["bonus"] = "x:y".len();
                r
            }"#;
        let (order, sites) = key_order(&tokenize(src));
        assert_eq!(
            order,
            [
                "zeta", "speed", "alive", "nested", "inner", "energy", "bonus"
            ]
        );
        let alive = sites.iter().find(|s| s.name == "alive").unwrap();
        assert_eq!(
            component_at(&sites, alive.start.0, alive.start.1 + 1),
            Some("alive")
        );
    }

    #[test]
    fn field_reads_skip_methods_and_rebound_names() {
        let src =
            "fn compute_reward(s, prev) { let a = s.torso_pos[0] + prev?.vel; s.len() + a.s.x }";
        let reads = field_accesses(&tokenize(src), &["s", "prev"]);
        let names: Vec<_> = reads.iter().map(|r| r.field.as_str()).collect();
        assert_eq!(names, ["torso_pos", "vel"]);
        assert_eq!((reads[0].line, reads[0].column), (1, 40));
        let shadow = "fn compute_reward(s, prev) { let s = #{ q: 1 }; s.q }";
        assert!(field_accesses(&tokenize(shadow), &["s", "prev"]).is_empty());
    }

    #[test]
    fn episode_reads_follow_step_bindings_and_skip_what_they_cannot_follow() {
        let src = "fn fitness(ep) {
            let steps = ep.steps;
            let a = steps[0];
            for (s, i) in ep.steps { s.x + i; }
            ep.steps.map(|t, j| t.y + j.z);
            ep.steps.reduce(|acc, u| acc.w + u.v, 0.0);
            steps[1].q + ep?.length;
            let b = 0.0; b.nope;
            let c = steps[0]; let c = 1; c.nope;
            a.p + a.len() + x || a.o;
        }";
        let reads = episode_reads(&tokenize(src), "fitness", "ep");
        let named = |v: &[FieldAccess]| -> Vec<String> {
            v.iter()
                .map(|a| format!("{}.{}", a.param, a.field))
                .collect()
        };
        assert_eq!(
            named(&reads.state),
            ["s.x", "t.y", "u.v", "steps[…].q", "a.p", "a.o"]
        );
        assert_eq!(
            named(&reads.episode),
            ["ep.steps", "ep.steps", "ep.steps", "ep.steps", "ep.length"]
        );
        assert_eq!((reads.state[0].line, reads.state[0].column), (4, 40));
        // A re-bound episode parameter is not followed at all.
        let rebound = "fn fitness(ep) { let ep = #{ steps: [] }; ep.x + ep.steps[0].y }";
        assert_eq!(
            episode_reads(&tokenize(rebound), "fitness", "ep"),
            EpisodeReads::default()
        );
        // Other functions are not scanned.
        let other = "fn helper(ep) { ep.x }\nfn fitness(ep) { 1.0 }";
        assert_eq!(
            episode_reads(&tokenize(other), "fitness", "ep"),
            EpisodeReads::default()
        );
    }

    #[test]
    fn typo_hints() {
        assert_eq!(
            closest("torso_hieght", ["torso_height", "up_z"]),
            Some("torso_height")
        );
        assert_eq!(closest("zzz", ["torso_height", "up_z"]), None);
    }
}
