//! Value-free statement names for tracing spans.

/// A short, value-free name of a statement for spans: its verb and the table it acts on
/// (`insert positions`, `select gs_kv`, `update ...`), or its first word. Parameters
/// are bound (`$1`), so the text holds no client value; the name keeps even less of it.
pub fn statement_name(sql: &str) -> String {
    let mut words = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase);
    let Some(verb) = words.next() else {
        return String::new();
    };
    let after = match verb.as_str() {
        "insert" => Some("into"),
        "delete" | "select" => Some("from"),
        "update" => None,
        _ => return verb,
    };
    let table = match after {
        Some(keyword) => words.find(|w| w == keyword).and_then(|_| words.next()),
        None => words.next(),
    };
    match table {
        Some(table) => format!("{verb} {}", table.trim_matches('"')),
        None => verb,
    }
}

#[cfg(test)]
mod tests {
    use super::statement_name;

    #[test]
    fn a_statement_is_named_by_its_verb_and_table_without_values() {
        assert_eq!(
            statement_name("insert into escrow_positions (id, amount) values ($1, $2)"),
            "insert escrow_positions"
        );
        assert_eq!(
            statement_name("SELECT a, b\n  FROM gs_kv WHERE key = $1"),
            "select gs_kv"
        );
        assert_eq!(
            statement_name("update t set x = 'secret' where id = $1"),
            "update t"
        );
        assert_eq!(
            statement_name("delete from \"q\" where id = $1"),
            "delete q"
        );
        assert_eq!(statement_name("select 1"), "select");
        assert_eq!(
            statement_name("with x as (select 1) select * from x"),
            "with"
        );
    }
}
