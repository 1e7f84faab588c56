//! INT 10h video services on an 80x25 colour text screen at B8000, mirrored to the console.
//!
//! The VGA text buffer is the truth (software reads it back); the console gets the same text as
//! a stream: teletype output as it is written, and text placed elsewhere on the screen (menus
//! drawn with AH=09h at moved cursors) after newlines and spaces, or ANSI cursor moves when the
//! console is a terminal.

use super::Bios;
use super::frame::Frame;
use super::post::{bda, r8, r16, rom, text_cell};
use crate::layout::{BDA_START, VGA_TEXT};
use vm_memory::{Bytes, GuestAddress};

const ROWS: u8 = 25;

impl Bios {
    fn columns(&self) -> u8 {
        let c = r16(&self.cfg.mem, BDA_START + bda::COLUMNS);
        if c == 0 || c > 80 { 80 } else { c as u8 }
    }

    fn page(&self) -> u8 {
        r8(&self.cfg.mem, BDA_START + bda::ACTIVE_PAGE) & 7
    }

    /// Cursor (row, column) of `page`.
    fn cursor(&self, page: u8) -> (u8, u8) {
        let v = r16(&self.cfg.mem, BDA_START + bda::CURSOR_POS + 2 * (page & 7) as u64);
        ((v >> 8) as u8, v as u8)
    }

    fn set_cursor(&self, page: u8, row: u8, col: u8) {
        let v = (row as u16) << 8 | col as u16;
        let _ = self.cfg.mem.write_obj(v, GuestAddress(BDA_START + bda::CURSOR_POS + 2 * (page & 7) as u64));
    }

    fn cell(&self, page: u8, row: u8, col: u8) -> u16 {
        r16(&self.cfg.mem, text_cell(page, row, col))
    }

    fn set_cell(&self, page: u8, row: u8, col: u8, v: u16) {
        if row < ROWS && col < 80 {
            let _ = self.cfg.mem.write_obj(v, GuestAddress(text_cell(page, row, col)));
        }
    }

    /// INT 10h AH=00h: set a video mode (text modes are 80 or 40 columns by 25 rows).
    pub(super) fn set_mode(&mut self, mode: u8) {
        let m = &self.cfg.mem;
        let clear = mode & 0x80 == 0;
        let mode = mode & 0x7F;
        let cols: u16 = if mode <= 1 { 40 } else { 80 };
        let b = |o: u64| GuestAddress(BDA_START + o);
        let _ = m.write_obj(mode, b(bda::VIDEO_MODE));
        let _ = m.write_obj(cols, b(bda::COLUMNS));
        let _ = m.write_obj(if cols == 80 { 0x1000u16 } else { 0x800 }, b(bda::PAGE_SIZE));
        let _ = m.write_obj(0u16, b(bda::PAGE_OFFSET));
        let _ = m.write_slice(&[0u8; 16], b(bda::CURSOR_POS));
        let _ = m.write_obj(0x0607u16, b(bda::CURSOR_SHAPE));
        let _ = m.write_obj(0u8, b(bda::ACTIVE_PAGE));
        let _ = m.write_obj(0x3D4u16, b(bda::CRTC_BASE));
        let _ = m.write_obj(0x29u8, b(bda::MODE_CONTROL));
        let _ = m.write_obj(0x30u8, b(bda::PALETTE));
        let _ = m.write_obj(ROWS - 1, b(bda::ROWS_MINUS_1));
        let _ = m.write_obj(16u8, b(bda::CHAR_HEIGHT));
        let _ = m.write_obj(0x60u8, b(bda::VIDEO_CONTROL));
        let _ = m.write_obj(0xF9u8, b(bda::VIDEO_SWITCHES));
        let _ = m.write_obj(0x51u8, b(bda::VGA_FLAGS));
        if clear {
            let blank: Vec<u8> = std::iter::repeat_n([0x20u8, 0x07], 8 * 0x800).flatten().collect();
            let _ = m.write_slice(&blank, GuestAddress(VGA_TEXT));
        }
    }

    pub(super) fn int10(&mut self, f: &mut Frame) {
        match f.ah() {
            0x00 => {
                self.set_mode(f.al());
                f.set_al(if f.al() & 0x7F <= 7 { 0x30 } else { 0x20 });
            }
            0x01 => {
                let _ = self.cfg.mem.write_obj(f.cx(), GuestAddress(BDA_START + bda::CURSOR_SHAPE));
            }
            0x02 => self.set_cursor(f.bh(), f.dh(), f.dl()),
            0x03 => {
                let (r, c) = self.cursor(f.bh());
                f.set_dx((r as u16) << 8 | c as u16);
                f.set_cx(r16(&self.cfg.mem, BDA_START + bda::CURSOR_SHAPE));
                f.set_ax(0);
            }
            0x05 => {
                let _ = self.cfg.mem.write_obj(f.al() & 7, GuestAddress(BDA_START + bda::ACTIVE_PAGE));
            }
            0x06 | 0x07 => self.scroll(f.ah() == 0x06, f.al(), f.bh(), (f.ch(), f.cl()), (f.dh(), f.dl())),
            0x08 => {
                let (r, c) = self.cursor(f.bh());
                f.set_ax(self.cell(f.bh(), r, c));
            }
            0x09 | 0x0A => {
                let page = f.bh();
                let (r, c) = self.cursor(page);
                let count = f.cx().min(80 * ROWS as u16);
                let ch = f.al();
                for i in 0..count {
                    let pos = c as u16 + i;
                    let (row, col) = (r as u16 + pos / 80, pos % 80);
                    if row >= ROWS as u16 {
                        break;
                    }
                    let attr = if f.ah() == 0x09 { f.bl() } else { (self.cell(page, row as u8, col as u8) >> 8) as u8 };
                    self.set_cell(page, row as u8, col as u8, (attr as u16) << 8 | ch as u16);
                }
                if page == self.page() {
                    self.console_put_at(r, c, ch, count);
                }
            }
            0x0E => self.teletype(f.al()),
            0x0F => {
                f.set_al(r8(&self.cfg.mem, BDA_START + bda::VIDEO_MODE));
                f.set_ah(self.columns());
                f.set_bh(self.page());
            }
            0x11 if f.al() == 0x30 => {
                // Font information: the 8x8 font in ROM, 16 scan lines per character, 25 rows.
                f.es = 0xF000;
                f.ebp = (f.ebp & !0xFFFF) | rom::FONT_8X8 as u32;
                f.set_cx(16);
                f.set_dl(ROWS - 1);
            }
            0x12 if f.bl() == 0x10 => {
                // EGA/VGA information: colour, 256 KiB, no feature bits, switches 9.
                f.set_bx(0x0003);
                f.set_cx(0x0009);
            }
            0x13 => self.write_string(f),
            0x1A if f.al() == 0x00 => {
                // Display combination: VGA with a colour display, no second display.
                f.set_al(0x1A);
                f.set_bx(0x0008);
            }
            // VBE: not supported (AL != 4Fh tells the caller so).
            0x4F => f.set_ax(0x0100),
            _ => {}
        }
    }

    /// AH=06h/07h: scroll a window up or down by `lines` (0 = clear it), filling with `attr`.
    fn scroll(&mut self, up: bool, lines: u8, attr: u8, (top, left): (u8, u8), (bottom, right): (u8, u8)) {
        let page = self.page();
        let (bottom, right) = (bottom.min(ROWS - 1), right.min(self.columns() - 1));
        if top > bottom || left > right {
            return;
        }
        let height = bottom - top + 1;
        let n = if lines == 0 || lines > height { height } else { lines };
        let blank = (attr as u16) << 8 | 0x20;
        let rows: Vec<u8> = if up { (top..=bottom).collect() } else { (top..=bottom).rev().collect() };
        for (i, &row) in rows.iter().enumerate() {
            let src = rows.get(i + n as usize).copied();
            for col in left..=right {
                let v = match src {
                    Some(s) => self.cell(page, s, col),
                    None => blank,
                };
                self.set_cell(page, row, col, v);
            }
        }
    }

    /// AH=0Eh: teletype output at the active page's cursor, scrolling at the bottom.
    fn teletype(&mut self, ch: u8) {
        let page = self.page();
        let cols = self.columns();
        let (mut r, mut c) = self.cursor(page);
        match ch {
            0x07 => {}
            0x08 => c = c.saturating_sub(1),
            0x0A => r += 1,
            0x0D => c = 0,
            _ => {
                let attr = self.cell(page, r.min(ROWS - 1), c.min(cols - 1)) & 0xFF00;
                self.set_cell(page, r, c, attr | ch as u16);
                c += 1;
                if c >= cols {
                    c = 0;
                    r += 1;
                }
            }
        }
        if r >= ROWS {
            self.scroll(true, 1, 0x07, (0, 0), (ROWS - 1, cols - 1));
            r = ROWS - 1;
        }
        self.set_cursor(page, r, c);
        // The console gets the byte as it is: a terminal does the rest.
        self.screen_to_console(&[ch]);
        self.console_pos = match ch {
            0x0A => (self.console_pos.0.saturating_add(1), self.console_pos.1),
            0x0D => (self.console_pos.0, 0),
            0x08 => (self.console_pos.0, self.console_pos.1.saturating_sub(1)),
            0x07 => self.console_pos,
            _ => (self.console_pos.0, self.console_pos.1.saturating_add(1)),
        };
        // Keep the console's idea of the row in step with the screen's.
        self.console_pos.0 = r;
    }

    /// Text written at (row, col) without teletype: bring the console there first.
    fn console_put_at(&mut self, row: u8, col: u8, ch: u8, count: u16) {
        let (cr, cc) = self.console_pos;
        let mut out = Vec::new();
        if (row, col) != (cr, cc) {
            if row == cr && col > cc {
                out.extend(std::iter::repeat_n(b' ', (col - cc) as usize));
            } else if row > cr {
                out.extend(std::iter::repeat_n([b'\r', b'\n'], (row - cr) as usize).flatten());
                out.extend(std::iter::repeat_n(b' ', col as usize));
            } else if self.cfg.console_is_tty {
                out.extend(format!("\x1b[{};{}H", row + 1, col + 1).into_bytes());
            } else {
                out.extend(b"\r\n");
                out.extend(std::iter::repeat_n(b' ', col as usize));
            }
        }
        let printable = if (0x20..0x7F).contains(&ch) { ch } else { b' ' };
        out.extend(std::iter::repeat_n(printable, count as usize));
        self.screen_to_console(&out);
        let end = col as u16 + count;
        self.console_pos = ((row as u16 + end / 80).min(255) as u8, (end % 80) as u8);
    }

    /// AH=13h: write a string from ES:BP at (DH, DL); AL bit 0 moves the cursor, bit 1 means
    /// the string alternates characters and attributes.
    fn write_string(&mut self, f: &mut Frame) {
        let page = f.bh();
        let mode = f.al();
        let mut addr = Frame::linear(f.es, f.ebp as u16);
        let saved = self.cursor(page);
        self.set_cursor(page, f.dh(), f.dl());
        for _ in 0..f.cx() {
            let mut b = [0u8; 2];
            let step = if mode & 2 != 0 { 2 } else { 1 };
            if self.cfg.mem.read_slice(&mut b[..step], GuestAddress(addr)).is_err() {
                break;
            }
            addr += step as u64;
            let attr = if mode & 2 != 0 { b[1] } else { f.bl() };
            let (r, c) = self.cursor(page);
            match b[0] {
                0x07 | 0x08 | 0x0A | 0x0D => self.teletype(b[0]),
                ch => {
                    self.set_cell(page, r, c, (attr as u16) << 8 | ch as u16);
                    self.teletype_advance(page);
                    self.screen_to_console(&[ch]);
                    self.console_pos.1 = self.console_pos.1.saturating_add(1);
                }
            }
        }
        if mode & 1 == 0 {
            self.set_cursor(page, saved.0, saved.1);
        }
    }

    fn teletype_advance(&mut self, page: u8) {
        let cols = self.columns();
        let (mut r, mut c) = self.cursor(page);
        c += 1;
        if c >= cols {
            c = 0;
            r += 1;
        }
        if r >= ROWS {
            self.scroll(true, 1, 0x07, (0, 0), (ROWS - 1, cols - 1));
            r = ROWS - 1;
        }
        self.set_cursor(page, r, c);
    }
}
