extension StringProtocol {
    /// Whether any character is a C0 control (U+0000–U+001F). No identifier, code, search value, challenge
    /// or client name this server takes holds one, and PostgreSQL's text cannot hold U+0000 at all: text
    /// from outside that is looked up or stored is checked with this first, so both backends answer alike.
    var containsControlCharacters: Bool { unicodeScalars.contains { $0.value < 0x20 } }
}
