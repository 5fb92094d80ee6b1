//! A text table no wider than the terminal: columns as wide as their widest cell of the first
//! page, shrunk (widest first) until the line fits, cells too long for their column cut with an
//! ellipsis. Widths are measured in terminal columns (`unicode-width`: a CJK character takes
//! two), and control characters are shown as `�`, so no cell can break a line or send an escape
//! sequence to the terminal. The widths are fixed by the first page so that the columns of a
//! long, streamed table stay aligned.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Between two columns; one space only when the columns must shrink, so they shrink less.
const GAP: &str = "  ";
const NARROW_GAP: &str = " ";
/// A column kept whole while others shrink is kept only if the others keep this much.
const MIN_SHRUNK: usize = 3;
/// What ends a cut cell.
const ELLIPSIS: char = '…';

/// A column of a table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    /// The header.
    pub header: &'static str,
    /// Numbers are aligned right, text left.
    pub right: bool,
    /// Kept at its natural width while the others can shrink (the time).
    pub keep: bool,
}

impl Column {
    /// A text column.
    pub const fn text(header: &'static str) -> Self {
        Self {
            header,
            right: false,
            keep: false,
        }
    }

    /// A number column.
    pub const fn number(header: &'static str) -> Self {
        Self {
            header,
            right: true,
            keep: false,
        }
    }

    /// A text column that shrinks last.
    pub const fn kept(header: &'static str) -> Self {
        Self {
            header,
            right: false,
            keep: true,
        }
    }
}

/// A table being printed page by page.
#[derive(Debug)]
pub(super) struct Table {
    columns: Vec<Column>,
    width: usize,
    widths: Option<Vec<usize>>,
    gap: &'static str,
}

impl Table {
    /// A table of `columns` whose lines are at most `width` terminal columns.
    pub fn new(columns: &[Column], width: usize) -> Self {
        Self {
            columns: columns.to_vec(),
            width: width.max(1),
            widths: None,
            gap: GAP,
        }
    }

    /// The lines of a page of rows (one cell per column); the first page also fixes the widths
    /// and starts with the header.
    pub fn page(&mut self, rows: &[Vec<String>]) -> String {
        let mut text = String::new();
        if self.widths.is_none() {
            let widths = self.fit(rows);
            let headers: Vec<String> = self.columns.iter().map(|c| c.header.into()).collect();
            self.widths = Some(widths);
            text.push_str(&self.line(&headers));
        }
        for row in rows {
            text.push_str(&self.line(row));
        }
        text
    }

    /// What is left to print at the end: the header, if no page was printed.
    pub fn finish(&mut self) -> String {
        if self.widths.is_some() {
            return String::new();
        }
        self.page(&[])
    }

    /// The column widths for these rows; sets the gap between columns.
    fn fit(&mut self, rows: &[Vec<String>]) -> Vec<usize> {
        let natural: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(n, column)| {
                let cells = rows.iter().filter_map(|row| row.get(n));
                cells
                    .map(|cell| shown_width(cell))
                    .chain([column.header.width()])
                    .max()
                    .unwrap_or_default()
            })
            .collect();
        let gaps = self.columns.len().saturating_sub(1);
        if natural.iter().sum::<usize>() + GAP.len() * gaps > self.width {
            self.gap = NARROW_GAP;
        }
        let room = self.width.saturating_sub(self.gap.len() * gaps);
        let kept: Vec<bool> = self.columns.iter().map(|c| c.keep).collect();
        fit_widths(&natural, &kept, room)
    }

    /// One line: each cell cut and padded to its column, then the whole cut to the width (when
    /// even one column each is too wide for it).
    fn line(&self, cells: &[String]) -> String {
        let widths = self.widths.as_deref().unwrap_or_default();
        let mut line = String::new();
        for (n, (column, width)) in self.columns.iter().zip(widths).enumerate() {
            if n > 0 {
                line.push_str(self.gap);
            }
            let cell = cut(&shown(cells.get(n).map_or("", String::as_str)), *width);
            let pad = " ".repeat(width.saturating_sub(cell.width()));
            if column.right {
                line.push_str(&pad);
                line.push_str(&cell);
            } else {
                line.push_str(&cell);
                line.push_str(&pad);
            }
        }
        let mut line = cut(line.trim_end(), self.width);
        line.push('\n');
        line
    }
}

/// Widths no larger than `natural` summing to at most `room`: the kept columns stay whole if the
/// others can still show `MIN_SHRUNK` columns each; then the widest shrink first.
fn fit_widths(natural: &[usize], kept: &[bool], room: usize) -> Vec<usize> {
    let kept_room: usize = natural
        .iter()
        .zip(kept)
        .filter(|(_, k)| **k)
        .map(|(n, _)| n)
        .sum();
    let shrinking = kept.iter().filter(|k| !**k).count();
    if room >= kept_room + MIN_SHRUNK * shrinking {
        let others: Vec<usize> = natural
            .iter()
            .zip(kept)
            .map(|(n, k)| if *k { 0 } else { *n })
            .collect();
        let shrunk = water_fill(&others, room - kept_room);
        return natural
            .iter()
            .zip(kept)
            .zip(shrunk)
            .map(|((n, k), s)| if *k { *n } else { s })
            .collect();
    }
    water_fill(natural, room)
}

/// Widths `min(natural, cap)` for the largest cap that fits `room`, the room left over given
/// one column each to the capped columns from the left.
fn water_fill(natural: &[usize], room: usize) -> Vec<usize> {
    let total = |cap: usize| natural.iter().map(|n| (*n).min(cap)).sum::<usize>();
    let (mut low, mut high) = (0, natural.iter().copied().max().unwrap_or_default());
    while low < high {
        let cap = (low + high).div_ceil(2);
        if total(cap) <= room {
            low = cap;
        } else {
            high = cap - 1;
        }
    }
    let mut widths: Vec<usize> = natural.iter().map(|n| (*n).min(low)).collect();
    let mut left = room.saturating_sub(total(low));
    for (width, natural) in widths.iter_mut().zip(natural) {
        if left > 0 && *width < *natural {
            *width += 1;
            left -= 1;
        }
    }
    widths
}

/// The text as it is shown: every control character (line breaks, tabs, escapes) as `�`.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn shown_width(text: &str) -> usize {
    shown(text).width()
}

/// The text if it fits in `width` terminal columns, else its start and an ellipsis.
pub(super) fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or_default();
        if used + w + 1 > width {
            break;
        }
        kept.push(c);
        used += w;
    }
    if width > 0 {
        kept.push(ELLIPSIS);
    }
    kept
}

#[cfg(test)]
mod tests;
