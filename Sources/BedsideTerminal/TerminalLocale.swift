#if canImport(Glibc)
import Glibc
#endif

/// The locale curses draws characters with. The language of the texts comes from LANG on its own; the
/// characters need a UTF-8 locale that is installed. When the one asked for is not (LANG=nl_NL.UTF-8 on
/// a machine with only C.UTF-8), `setlocale` fails, curses falls back to ASCII and every `·`, `•`, `▲`
/// and chart block becomes `?`. Then C.UTF-8 is used for the characters, and the caller says so once.
public enum TerminalLocale {
    /// Sets the character locale; returns a sentence for stderr when it had to fall back, else nil.
    public static func useUTF8Characters() -> String? {
        let asked = setlocale(LC_ALL, "")
        if asked != nil, isUTF8 { return nil }
        let names: [String] = ["LC_ALL", "LC_CTYPE", "LANG"]
        let wanted = names.compactMap { name in getenv(name).map { String(cString: $0) } }.first { !$0.isEmpty } ?? "C"
        for fallback in ["C.UTF-8", "C.utf8", "en_US.UTF-8"] where setlocale(LC_ALL, fallback) != nil && isUTF8 {
            return "bedside: the locale \(wanted) is not installed (or not UTF-8); characters are shown with \(fallback), the language stays as asked."
        }
        return "bedside: no UTF-8 locale is installed; some symbols may show as '?'."
    }

    static var isUTF8: Bool {
        guard let codeset = nl_langinfo(nl_item(CODESET)) else { return false }
        let name = String(cString: codeset).uppercased()
        return name == "UTF-8" || name == "UTF8"
    }
}
