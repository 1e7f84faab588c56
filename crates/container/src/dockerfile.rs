//! The Dockerfile subset: FROM, COPY, RUN, ENV, WORKDIR, CMD, ENTRYPOINT, USER, with comments,
//! line continuations, and both shell and JSON (exec) forms.

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    From(String),
    Copy { srcs: Vec<String>, dest: String },
    Run(Vec<String>),
    Env(Vec<(String, String)>),
    Workdir(String),
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    User(String),
}

/// A Dockerfile that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("Dockerfile line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

fn err(line: usize, msg: impl Into<String>) -> ParseError {
    ParseError { line, msg: msg.into() }
}

/// JSON array form, or the shell form wrapped in /bin/sh -c.
fn command(args: &str, line: usize) -> Result<Vec<String>, ParseError> {
    let t = args.trim();
    if t.starts_with('[') {
        serde_json::from_str::<Vec<String>>(t)
            .map_err(|e| err(line, format!("bad JSON array ({e}); write [\"prog\", \"arg\"]")))
    } else if t.is_empty() {
        Err(err(line, "missing command"))
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), t.to_string()])
    }
}

/// Parses the subset; the first instruction must be FROM.
pub fn parse(text: &str) -> Result<Vec<Step>, ParseError> {
    let mut steps = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let l = raw.trim();
        if pending.is_empty() && (l.is_empty() || l.starts_with('#')) {
            continue;
        }
        if pending.is_empty() {
            start = n;
        }
        if let Some(cont) = l.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        if l.starts_with('#') {
            continue;
        }
        pending.push_str(l);
        let full = std::mem::take(&mut pending);
        let (ins, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let args = args.trim();
        let step = match ins.to_ascii_uppercase().as_str() {
            "FROM" => {
                Step::From(args.split_whitespace().next().ok_or_else(|| err(start, "FROM needs an image"))?.to_string())
            }
            "COPY" => {
                let words: Vec<String> = if args.starts_with('[') {
                    command(args, start)?
                } else {
                    args.split_whitespace().map(String::from).collect()
                };
                if words.iter().any(|w| w.starts_with("--")) {
                    return Err(err(start, "COPY options (--from, --chown) are not supported"));
                }
                if words.len() < 2 {
                    return Err(err(start, "COPY needs at least one source and a destination"));
                }
                let (dest, srcs) = words.split_last().ok_or_else(|| err(start, "COPY needs a destination"))?;
                Step::Copy { srcs: srcs.to_vec(), dest: dest.clone() }
            }
            "RUN" => Step::Run(command(args, start)?),
            "CMD" => Step::Cmd(command(args, start)?),
            "ENTRYPOINT" => Step::Entrypoint(command(args, start)?),
            "WORKDIR" if !args.is_empty() => Step::Workdir(args.to_string()),
            "USER" if !args.is_empty() => Step::User(args.to_string()),
            "ENV" => {
                let mut kv = Vec::new();
                if args.contains('=') {
                    for w in args.split_whitespace() {
                        let (k, v) =
                            w.split_once('=').ok_or_else(|| err(start, format!("ENV {w}: write KEY=VALUE")))?;
                        kv.push((k.to_string(), v.trim_matches('"').to_string()));
                    }
                } else {
                    let (k, v) =
                        args.split_once(char::is_whitespace).ok_or_else(|| err(start, "ENV needs KEY=VALUE"))?;
                    kv.push((k.to_string(), v.trim().to_string()));
                }
                if kv.is_empty() {
                    return Err(err(start, "ENV needs KEY=VALUE"));
                }
                Step::Env(kv)
            }
            other => {
                return Err(err(
                    start,
                    format!(
                        "'{other}' is not supported (or has no argument); ondol builds FROM, COPY, RUN, ENV, WORKDIR, CMD, ENTRYPOINT and USER"
                    ),
                ));
            }
        };
        if steps.is_empty() && !matches!(step, Step::From(_)) {
            return Err(err(start, "the first instruction must be FROM"));
        }
        steps.push(step);
    }
    if !pending.is_empty() {
        return Err(err(start, "the file ends in a line continuation"));
    }
    if steps.is_empty() {
        return Err(err(1, "no instructions; start with FROM"));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_instruction_in_both_forms() {
        let s = parse("# c\nFROM busybox:1 AS x\nCOPY a b /dst/\nRUN echo hi \\\n  && true\nENV A=1 B=\"two\"\nENV C three words\nWORKDIR /w\nUSER user:grp\nCMD [\"ls\", \"-l\"]\nENTRYPOINT echo\n").unwrap();
        assert_eq!(s[0], Step::From("busybox:1".into()));
        assert_eq!(s[1], Step::Copy { srcs: vec!["a".into(), "b".into()], dest: "/dst/".into() });
        assert_eq!(s[2], Step::Run(vec!["/bin/sh".into(), "-c".into(), "echo hi  && true".into()]));
        assert_eq!(s[3], Step::Env(vec![("A".into(), "1".into()), ("B".into(), "two".into())]));
        assert_eq!(s[4], Step::Env(vec![("C".into(), "three words".into())]));
        assert_eq!(s[5], Step::Workdir("/w".into()));
        assert_eq!(s[6], Step::User("user:grp".into()));
        assert_eq!(s[7], Step::Cmd(vec!["ls".into(), "-l".into()]));
        assert_eq!(s[8], Step::Entrypoint(vec!["/bin/sh".into(), "-c".into(), "echo".into()]));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("FROM a\nADD x y\n").unwrap_err().line, 2);
        assert!(parse("RUN true\n").unwrap_err().msg.contains("FROM"));
        assert!(parse("FROM a\nCMD [\"x\"\n").is_err());
        assert!(parse("FROM a\nCOPY onlyone\n").is_err());
        assert!(parse("").is_err());
    }
}
