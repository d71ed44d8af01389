import Foundation
import BedsideCore

/// Turns `?name=value&...` into a `ResourceQuery`, refusing what it does not understand.
///
/// Unknown parameters are an error (400), not silently ignored: a misspelt `patient` that quietly
/// returned everything a clinician may see would be a safety problem.
struct SearchRequest {
    static let defaultCount = ServerLimits.defaultPageSize
    static let maximumCount = ServerLimits.maximumPageSize
    static let ignoredParameters: Set<String> = ["_format", "_pretty"]
    /// Each value becomes a term of one SQL expression, and SQLite refuses an expression nested 1,000
    /// deep: about 500 codes were answered 500 (found by the server fuzz target). Real searches name a
    /// handful; past these limits (`ServerLimits`) the answer is a clear 400.
    static let maximumValuesPerParameter = ServerLimits.valuesPerParameter
    static let maximumParameters = ServerLimits.searchParameters

    /// `a=1&b=2` as name/value pairs, percent-decoded, in order. The one reading of a query string,
    /// for a plain GET's URL and a batch entry's `request.url` alike.
    static func parameters(query: String?) -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                // '+' is kept: FHIR dates carry "+01:00", and clients are told to percent-encode it.
                String(text).removingPercentEncoding ?? String(text)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// `now` (epoch milliseconds) is the time of the search, which `ap` dates are approximate to.
    static func parse(type: SupportedResource, parameters: [(String, String)], now: Int64 = 0) throws(ServerError) -> ResourceQuery {
        var query = ResourceQuery(type: type.rawValue)
        query.count = defaultCount
        query.byteBudget = ServerLimits.pageBytes
        guard parameters.count <= ServerLimits.searchParameters else {
            throw .badRequest(
                "A search takes at most \(ServerLimits.searchParameters) parameters; this one has \(parameters.count).", code: "too-costly")
        }
        for (name, value) in parameters {
            // No search value holds a control character; U+0000 would not even reach PostgreSQL.
            if name.containsControlCharacters || value.containsControlCharacters {
                throw .badRequest("A search parameter may not contain control characters.", expression: name, code: "invalid")
            }
            if ignoredParameters.contains(name) { continue }
            if name.hasPrefix("_has:") {
                query.has.append(try reverseChain(name, value: value, on: type, now: now))
                continue
            }
            guard let parameter = SearchParameter.named(name, for: type) else {
                let supported = SearchParameter.all(for: type).filter(\.advertised).map(\.name).sorted().joined(separator: ", ")
                throw .badRequest(
                    "The search parameter '\(name)' is not supported for \(type.rawValue) (supported: \(supported)).", expression: name,
                    code: "not-supported")
            }
            let values = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard values.count <= ServerLimits.valuesPerParameter else {
                throw .badRequest(
                    "'\(name)' takes at most \(ServerLimits.valuesPerParameter) values; this one has \(values.count). Search in parts.",
                    expression: name, code: "too-costly")
            }
            switch parameter.field {
            case .id:
                query.ids = intersect(query.ids, values)
            case .patient:
                let ids = try values.map { value throws(ServerError) -> String in
                    let id = value.hasPrefix("Patient/") ? String(value.dropFirst(8)) : value
                    guard FHIRSyntax.isValidID(id) else { throw .badRequest("'\(value)' is not a patient reference.", expression: name) }
                    return id
                }
                query.patientIDs = intersect(query.patientIDs, ids)
            case .status:
                query.statuses = intersect(query.statuses, values)
            case .code:
                // A parameter given twice is both at once (AND); its comma-separated values any of them (OR).
                query.codes.append(try values.map { value throws(ServerError) in try tokenSearch(value, name: name) })
            case .category:
                query.categories.append(try values.map { value throws(ServerError) in try tokenSearch(value, name: name) })
            case .identifier:
                query.identifiers = values.map(token)
            case .canonicalURL:
                // A canonical url, with or without `|version` (the current version is what is kept).
                query.identifiers = values.map { value in
                    ResourceCode(
                        system: ServerAdministration.canonicalSystem, code: value.split(separator: "|", maxSplits: 1).first.map(String.init) ?? value)
                }
            case .clinicalDate:
                query.dates.append(try dateCondition(value, name: name, now: now))
            case .lastUpdated:
                query.lastUpdated.append(try dateCondition(value, name: name, now: now))
            case .count:
                guard let count = Int(value), count >= 0 else { throw .badRequest("_count must be a whole number.", expression: name) }
                query.count = min(count, maximumCount)
            case .include:
                let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, parts[0] == type.rawValue, ["patient", "subject", "owner"].contains(parts[1]),
                    type.searchParameters.contains(parts[1])
                else {
                    throw .badRequest(
                        "_include=\(value.prefix(60)) is not supported: write _include=\(type.rawValue):patient.", expression: name, code: "not-supported")
                }
                query.includePatients = true
            case .revinclude:
                let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, let target = SupportedResource(rawValue: parts[0]), target.isPatientData, target != .patient,
                    ["patient", "subject"].contains(parts[1]), target.searchParameters.contains(parts[1])
                else {
                    throw .badRequest(
                        "_revinclude=\(value.prefix(60)) is not supported: write _revinclude=TYPE:patient (Observation, QuestionnaireResponse, Task or Flag).",
                        expression: name, code: "not-supported")
                }
                if !query.revinclude.contains(target.rawValue) { query.revinclude.append(target.rawValue) }
            case .summary:
                switch value {
                case "count": query.countOnly = true
                case "false": break
                default:
                    throw .badRequest(
                        "_summary=\(value.prefix(40)) is not supported: use _summary=count (how many match) or leave it out.", expression: name,
                        code: "not-supported")
                }
            case .elements:
                query.elements = try ElementSubset.parse(value, type: type).names
            case .total:
                switch value {
                case "accurate", "estimate": query.wantsTotal = true
                case "none": query.wantsTotal = false
                default: throw .badRequest("_total takes none, estimate or accurate.", expression: name)
                }
            case .offset:
                guard let offset = Int(value), offset >= 0 else { throw .badRequest("_offset must be a whole number.", expression: name) }
                guard offset <= ServerLimits.maximumOffset else {
                    throw .badRequest(
                        "_offset goes to \(ServerLimits.maximumOffset) at most; narrow the search instead (for example with _lastUpdated).",
                        expression: name, code: "too-costly")
                }
                query.offset = offset
            case .cursor:
                guard value.utf8.count <= SearchCursor.maximumLength, value.utf8.allSatisfy(SearchCursor.isTokenByte) else {
                    throw Self.foreignCursor(name)
                }
                query.cursorToken = value
            case .sort:
                var sorted = Set<String>()
                query.sort = try values.map { key throws(ServerError) -> ResourceQuery.SortKey in
                    let ascending = !key.hasPrefix("-")
                    let bare = ascending ? key : String(key.dropFirst())
                    guard sorted.insert(bare).inserted else { throw .badRequest("_sort names '\(bare)' twice.", expression: name) }
                    guard type.sortKeys.contains(bare) else {
                        throw .badRequest("Cannot sort \(type.rawValue) by '\(bare)' (supported: \(type.sortKeys.joined(separator: ", "))).", expression: name)
                    }
                    switch bare {
                    case "date", "authored": return .date(ascending: ascending)
                    case "priority": return .priority(ascending: ascending)
                    default: return .lastUpdated(ascending: ascending)
                    }
                }
            }
        }
        // Observations come newest first unless asked otherwise.
        if query.sort.isEmpty, type == .observation { query.sort = [.date(ascending: false)] }
        if query.cursorToken != nil, query.offset != 0 {
            throw .badRequest("Give _cursor or _offset, not both.", expression: "_offset")
        }
        return query
    }

    static func foreignCursor(_ name: String) -> ServerError {
        .badRequest("_cursor is not one this server wrote for this search: follow the Bundle's next link as it is.", expression: name)
    }

    /// `_has:Flag:patient:status=active` on Patient: the patients some Flag (by its `patient`) with
    /// status active points at. The inner parameter is read as a search of that type, with its checks.
    private static func reverseChain(_ name: String, value: String, on type: SupportedResource, now: Int64) throws(ServerError) -> ResourceQuery {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard type == .patient else {
            throw .badRequest("_has is supported on Patient only.", expression: name, code: "not-supported")
        }
        guard parts.count == 4, let inner = SupportedResource(rawValue: parts[1]), inner.isPatientData, inner != .patient,
            ["patient", "subject"].contains(parts[2]), inner.searchParameters.contains(parts[2])
        else {
            let types = SupportedResource.allCases.filter { $0.isPatientData && $0 != .patient && $0.searchParameters.contains("patient") }
                .map(\.rawValue).joined(separator: ", ")
            throw .badRequest(
                "'\(name)' is not a reverse chain this server follows: write _has:TYPE:patient:PARAMETER=VALUE, TYPE one of \(types).",
                expression: name, code: "not-supported")
        }
        guard !["patient", "subject", "_has", "_cursor", "_offset", "_count", "_sort", "_total", "_summary"].contains(parts[3]) else {
            throw .badRequest("'\(name)': the last part names a search parameter of \(inner.rawValue), such as status.", expression: name)
        }
        return try parse(type: inner, parameters: [(parts[3], value)], now: now)
    }

    private static func intersect(_ existing: [String]?, _ new: [String]) -> [String] {
        guard let existing else { return new }
        return existing.filter(new.contains)
    }

    /// A token search value: `code` (any system), `system|code`, `|code` (no system), `system|` (any code).
    private static func tokenSearch(_ value: String, name: String) throws(ServerError) -> TokenSearch {
        guard let bar = value.firstIndex(of: "|") else {
            guard !value.isEmpty else { throw .badRequest("'\(name)' needs a code, system|code, |code or system|.", expression: name) }
            return TokenSearch(system: nil, code: value)
        }
        let system = String(value[..<bar])
        let code = String(value[value.index(after: bar)...])
        guard !(system.isEmpty && code.isEmpty) else { throw .badRequest("'\(name)=|' names neither a system nor a code.", expression: name) }
        return TokenSearch(system: system, code: code.isEmpty ? nil : code)
    }

    /// `system|code`, `|code` (no system) or `code` (any system).
    private static func token(_ value: String) -> ResourceCode {
        guard let bar = value.firstIndex(of: "|") else { return ResourceCode(system: "", code: value) }
        return ResourceCode(system: String(value[..<bar]), code: String(value[value.index(after: bar)...]))
    }

    private static func dateCondition(_ value: String, name: String, now: Int64) throws(ServerError) -> ResourceQuery.DateCondition {
        var comparison = ResourceQuery.Comparison.eq
        var text = Substring(value)
        if text.count > 2, let prefix = ResourceQuery.Comparison(rawValue: String(text.prefix(2))) {
            comparison = prefix
            text = text.dropFirst(2)
        }
        // A '+' in a query string decodes to a space; put the offset sign back.
        let repaired = String(text).replacingOccurrences(of: " ", with: "+")
        guard let dateTime = FHIRDateTime(repaired) else {
            throw .badRequest("'\(value)' is not a FHIR date (e.g. 2026-11-23 or 2026-11-23T10:00:00+01:00).", expression: name)
        }
        var condition = ResourceQuery.DateCondition(comparison: comparison, value: dateTime)
        if comparison == .ap {
            let middle = dateTime.lowerBound / 2 + dateTime.upperBound / 2
            let gap = now.subtractingReportingOverflow(middle).partialValue.magnitude
            condition.margin = Int64(clamping: max(gap / 10, 60_000))
        }
        return condition
    }
}
