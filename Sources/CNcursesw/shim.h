// ncursesw for Swift: wide-character API on, locale and wchar first, and accessors for the
// library's global mutable state (stdscr, LINES, COLS, COLORS), which Swift 6 will not touch directly.
#ifndef BEDSIDE_NCURSESW_SHIM_H
#define BEDSIDE_NCURSESW_SHIM_H

#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <wchar.h>
#include <string.h>
#include <ncursesw/curses.h>

static inline WINDOW *bedside_stdscr(void) { return stdscr; }
static inline int bedside_lines(void) { return LINES; }
static inline int bedside_cols(void) { return COLS; }
static inline int bedside_colors(void) { return COLORS; }
static inline int bedside_color_pairs(void) { return COLOR_PAIRS; }
static inline int bedside_key_resize(void) { return KEY_RESIZE; }
static inline int bedside_key_code_yes(void) { return KEY_CODE_YES; }
static inline int bedside_err(void) { return ERR; }
static inline attr_t bedside_a_bold(void) { return A_BOLD; }
static inline attr_t bedside_a_underline(void) { return A_UNDERLINE; }
static inline attr_t bedside_a_reverse(void) { return A_REVERSE; }
static inline attr_t bedside_a_dim(void) { return A_DIM; }
static inline int bedside_key_f(int n) { return KEY_F(n); }

/// Writes one grapheme (UTF-8) at row/col with attributes and a colour pair.
static inline int bedside_put(int row, int col, const char *utf8, attr_t attributes, short pair) {
    wchar_t wide[16];
    mbstate_t state;
    memset(&state, 0, sizeof state);
    const char *source = utf8;
    size_t count = mbsrtowcs(wide, &source, 15, &state);
    if (count == (size_t)-1) { wide[0] = L'?'; count = 1; }
    wide[count] = 0;
    cchar_t cell;
    if (setcchar(&cell, wide, attributes, pair, NULL) != OK) return ERR;
    return mvadd_wch(row, col, &cell);
}

#endif
