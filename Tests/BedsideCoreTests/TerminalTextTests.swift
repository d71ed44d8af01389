import Testing

@testable import BedsideCore

/// Text from outside (a server, a file, a form) shown on a terminal must stay text: no control or escape
/// sequence may move the cursor, recolour, retitle the window or turn text around.
@Suite("Inert terminal text")
struct TerminalTextTests {
    @Test("C0, DEL, C1 and bidi overrides become visible symbols; ordinary text is unchanged")
    func inert() {
        #expect(TerminalText.inert("Ann\u{1B}]0;owned\u{07}\u{1B}[2J") == "Ann␛]0;owned␇␛[2J")
        #expect(TerminalText.inert("a\u{7F}b\u{9B}1m\u{202E}c\u{2066}") == "a␡b�1m�c�")
        #expect(TerminalText.inert("line\nbreak\r\n") == "line␊break␍␊")
        #expect(TerminalText.inert("Blutdruck 120/80 mmHg, Ærø, 体重, 👩‍⚕️") == "Blutdruck 120/80 mmHg, Ærø, 体重, 👩‍⚕️")
    }

    @Test("kept line breaks stay line breaks, everything else on the line is inert")
    func keepingLineBreaks() {
        #expect(TerminalText.inert("one\u{1B}[1A\ntwo\r\n", keepingLineBreaks: true) == "one␛[1A\ntwo␍\n")
    }
}
