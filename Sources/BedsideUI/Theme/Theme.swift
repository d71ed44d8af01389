#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a piece of the screen is, so a theme can say how it looks.
public enum StyleRole: String, CaseIterable, Sendable {
    case text, muted, title, accent, border, selection, input
    case statusBar = "status-bar"
    case ok, warning, error
    case priorityRed = "priority-red"
    case priorityOrange = "priority-orange"
    case priorityGray = "priority-gray"
}

/// A terminal colour: the terminal's own, or a 24-bit one that the backend maps to what the terminal has.
public enum ThemeColor: Sendable, Equatable, Hashable {
    case terminalDefault
    case rgb(UInt8, UInt8, UInt8)

    /// `#rrggbb` or `default`.
    public init?(_ text: String) {
        if text == "default" {
            self = .terminalDefault
            return
        }
        let digits = Array(text.utf8)
        guard digits.count == 7, digits[0] == UInt8(ascii: "#") else { return nil }
        var values: [UInt8] = []
        for index in stride(from: 1, to: 7, by: 2) {
            guard let value = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            values.append(value)
        }
        self = .rgb(values[0], values[1], values[2])
    }

    /// WCAG relative luminance, for contrast checks.
    public var luminance: Double? {
        guard case .rgb(let r, let g, let b) = self else { return nil }
        func channel(_ value: UInt8) -> Double {
            let c = Double(value) / 255
            return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    /// WCAG contrast ratio between two colours (1 to 21), when both are known.
    public func contrast(with other: ThemeColor) -> Double? {
        guard let a = luminance, let b = other.luminance else { return nil }
        return (max(a, b) + 0.05) / (min(a, b) + 0.05)
    }
}

/// How one role looks.
public struct Style: Sendable, Equatable, Hashable {
    public var foreground: ThemeColor
    public var background: ThemeColor
    public var bold = false
    public var underline = false
    public var reverse = false
    public var dim = false

    public init(
        foreground: ThemeColor = .terminalDefault, background: ThemeColor = .terminalDefault, bold: Bool = false,
        underline: Bool = false, reverse: Bool = false, dim: Bool = false
    ) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.underline = underline
        self.reverse = reverse
        self.dim = dim
    }

    /// No colour at all: what `NO_COLOR` leaves of a style.
    public var withoutColor: Style {
        Style(bold: bold, underline: underline, reverse: reverse, dim: dim)
    }
}

/// A named set of styles, one for every role.
public struct Theme: Sendable, Equatable {
    public let name: String
    public let description: String
    private let styles: [StyleRole: Style]

    public init(name: String, description: String, styles: [StyleRole: Style]) {
        self.name = name
        self.description = description
        self.styles = styles
    }

    public func style(_ role: StyleRole) -> Style { styles[role] ?? Style() }

    /// The same theme with every colour removed (for `NO_COLOR` and the mono theme's guarantee).
    public var withoutColor: Theme {
        Theme(name: name, description: description, styles: styles.mapValues(\.withoutColor))
    }

    public var usesColor: Bool {
        styles.values.contains { $0.foreground != .terminalDefault || $0.background != .terminalDefault }
    }
}
