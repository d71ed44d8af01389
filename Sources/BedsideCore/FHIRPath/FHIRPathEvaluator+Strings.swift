/// The string functions. Positions and lengths count characters (as a reader sees them).
/// Regular expressions use Swift's `Regex` syntax (PCRE-like), case-sensitive, with `.` matching
/// newlines as FHIRPath requires; `matches()` is true when the pattern matches anywhere.
extension FHIRPathEvaluator {
    func strings(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        if call.function == .join { return try join(call) }
        guard let item = try singleInput(call) else { return [] }
        guard case .string(let text) = item else { throw failure("\(call.name) works on a string, not \(item.typeName)", at: call.position) }
        switch call.function {
        case .length:
            return [.integer(text.count)]
        case .upper:
            return [.string(text.uppercased())]
        case .lower:
            return [.string(text.lowercased())]
        case .trim:
            return [.string(String(text.trimmingWhitespace))]
        case .toChars:
            return text.map { .string(String($0)) }
        case .indexOf:
            guard let part = try stringArgument(0, of: call) else { return [] }
            guard !part.isEmpty else { return [.integer(0)] }
            guard let range = text.firstRange(of: part) else { return [.integer(-1)] }
            return [.integer(text.distance(from: text.startIndex, to: range.lowerBound))]
        case .substring:
            return try substring(of: text, call)
        case .startsWith:
            return try stringArgument(0, of: call).map { [.boolean(text.hasPrefix($0))] } ?? []
        case .endsWith:
            return try stringArgument(0, of: call).map { [.boolean(text.hasSuffix($0))] } ?? []
        case .contains:
            return try stringArgument(0, of: call).map { [.boolean($0.isEmpty || text.contains($0))] } ?? []
        case .replace:
            guard let pattern = try stringArgument(0, of: call), let substitution = try stringArgument(1, of: call) else { return [] }
            guard !pattern.isEmpty else { return [.string(substitution + text.map { String($0) + substitution }.joined())] }
            return [.string(text.replacing(pattern, with: substitution))]
        case .split:
            guard let separator = try stringArgument(0, of: call) else { return [] }
            guard !separator.isEmpty else { return text.map { .string(String($0)) } }
            return text.split(separator: separator, omittingEmptySubsequences: false).map { .string(String($0)) }
        case .matches:
            guard let pattern = try stringArgument(0, of: call) else { return [] }
            let regex = try compile(pattern, for: call)
            return [.boolean(text.firstMatch(of: regex) != nil)]
        default:  // replaceMatches
            guard let pattern = try stringArgument(0, of: call), let substitution = try stringArgument(1, of: call) else { return [] }
            return [.string(replacingMatches(of: try compile(pattern, for: call), in: text, with: substitution))]
        }
    }

    /// `substring(start [, length])`: empty when `start` is outside the string.
    private func substring(of text: String, _ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        guard let start = try integerArgument(0, of: call), start >= 0, start < text.count else { return [] }
        let lower = text.index(text.startIndex, offsetBy: start)
        guard call.arguments.count > 1 else { return [.string(String(text[lower...]))] }
        guard let length = try integerArgument(1, of: call) else { return [.string(String(text[lower...]))] }
        let upper = text.index(lower, offsetBy: max(0, min(length, text.count - start)))
        return [.string(String(text[lower..<upper]))]
    }

    /// `join([separator])`: the input strings joined into one.
    private func join(_ call: FHIRPathCall) throws(FHIRPathError) -> [FHIRPathValue] {
        let separator = try stringArgument(0, of: call) ?? ""
        var parts: [String] = []
        for item in call.input {
            guard case .string(let text) = item else { throw failure("'join()' joins strings, not \(item.typeName)", at: call.position) }
            parts.append(text)
        }
        return call.input.isEmpty ? [] : [.string(parts.joined(separator: separator))]
    }

    private func compile(_ pattern: String, for call: FHIRPathCall) throws(FHIRPathError) -> Regex<AnyRegexOutput> {
        do {
            return try Regex(pattern).dotMatchesNewlines()
        } catch {
            throw failure("\(call.name) was given a regular expression that does not compile: \(pattern)", at: call.position)
        }
    }

    /// Every match replaced by `substitution`, in which `$1` … `$9` stand for the match's groups.
    private func replacingMatches(of regex: Regex<AnyRegexOutput>, in text: String, with substitution: String) -> String {
        var result = ""
        var copied = text.startIndex
        for match in text.matches(of: regex) {
            result += text[copied..<match.range.lowerBound]
            result += expand(substitution, with: match)
            copied = match.range.upperBound
        }
        return result + text[copied...]
    }

    private func expand(_ substitution: String, with match: Regex<AnyRegexOutput>.Match) -> String {
        var result = ""
        var characters = substitution[...]
        while let character = characters.first {
            characters = characters.dropFirst()
            if character == "$", let digit = characters.first?.wholeNumberValue, digit > 0, digit < match.output.count {
                characters = characters.dropFirst()
                result += match.output[digit].substring.map(String.init) ?? ""
            } else {
                result.append(character)
            }
        }
        return result
    }
}
