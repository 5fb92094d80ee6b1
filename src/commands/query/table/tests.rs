use unicode_width::UnicodeWidthStr;

use super::*;

const COLUMNS: [Column; 4] = [
    Column::kept("time"),
    Column::text("id"),
    Column::text("agent"),
    Column::number("cost"),
];

fn row(cells: [&str; 4]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn rows() -> Vec<Vec<String>> {
    vec![
        row([
            "2026-11-28 10:00:00",
            "3f2a9c1e-0000-4000-8000-000000000001",
            "agent-101",
            "0.05",
        ]),
        row(["2026-11-28 09:59:59", "evt-2", "代理人-長い名前", "12.5"]),
        row(["2026-11-28 09:59:58", "evt\n3\u{1b}[31m", "", ""]),
    ]
}

#[test]
fn a_cell_longer_than_its_column_ends_in_an_ellipsis() {
    assert_eq!(cut("agent-101", 9), "agent-101");
    assert_eq!(cut("agent-101", 8), "agent-1…");
    assert_eq!(cut("agent-101", 1), "…");
    assert_eq!(cut("agent-101", 0), "");
    // Two columns per character: the cut never splits one, and may leave a column empty.
    assert_eq!(cut("代理人", 6), "代理人");
    assert_eq!(cut("代理人", 5), "代理…");
    assert_eq!(cut("代理人", 4), "代…");
    assert!(cut("代理人", 4).width() <= 4);
}

#[test]
fn the_table_keeps_its_natural_widths_when_they_fit() {
    let mut table = Table::new(&COLUMNS, 200);
    let text = table.page(&rows());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(
        lines[0].starts_with("time                 id "),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("3f2a9c1e-0000-4000-8000-000000000001"));
    assert!(
        lines[1].ends_with(" 0.05"),
        "numbers align right: {}",
        lines[1]
    );
    assert!(!text.contains('…'));
}

#[test]
fn control_characters_cannot_break_a_line_or_reach_the_terminal() {
    let mut table = Table::new(&COLUMNS, 200);
    let text = table.page(&rows());
    assert_eq!(text.lines().count(), 4);
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("evt\u{fffd}3\u{fffd}[31m"), "{text}");
}

#[test]
fn no_line_is_wider_than_the_width_whatever_it_is() {
    for width in 1..=120 {
        let mut table = Table::new(&COLUMNS, width);
        let mut text = table.page(&rows());
        text.push_str(&table.page(&[row(["x", &"long".repeat(60), "", "1"])]));
        for line in text.lines() {
            assert!(line.width() <= width, "{width}: {line:?}");
        }
    }
}

#[test]
fn columns_that_must_shrink_are_one_space_apart() {
    let mut table = Table::new(&COLUMNS, 40);
    let text = table.page(&rows());
    let first = text.lines().nth(1).unwrap();
    assert!(first.starts_with("2026-11-28 10:00:00 3f2a"), "{first:?}");
}

#[test]
fn the_widest_columns_shrink_first_and_the_time_last() {
    let natural = [19, 36, 9, 4];
    let kept = [true, false, false, false];
    assert_eq!(fit_widths(&natural, &kept, 68), [19, 36, 9, 4]);
    assert_eq!(fit_widths(&natural, &kept, 40), [19, 9, 8, 4]);
    // Too narrow for the others to keep three columns each: everything shrinks alike.
    assert_eq!(fit_widths(&natural, &kept, 24), [7, 7, 6, 4]);
    for room in 0..80 {
        let widths = fit_widths(&natural, &kept, room);
        assert!(widths.iter().sum::<usize>() <= room, "{room}: {widths:?}");
        assert!(widths.iter().zip(natural).all(|(w, n)| *w <= n));
    }
}

#[test]
fn an_empty_table_is_its_header_and_later_pages_keep_the_first_widths() {
    let mut empty = Table::new(&COLUMNS, 80);
    assert_eq!(empty.finish(), "time  id  agent  cost\n");
    let mut table = Table::new(&COLUMNS, 80);
    let first = table.page(&rows()[..1]);
    let later = table.page(&[row(["2026-11-28 09:00:00", "e", "a", "1"])]);
    assert_eq!(table.finish(), "");
    let header = first.lines().next().unwrap();
    let position = |line: &str, word: &str| line.find(word).unwrap();
    assert_eq!(position(header, "agent"), position(&later, " a ") + 1);
}
