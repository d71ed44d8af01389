/// One problem found in a request, in the shape of a FHIR `OperationOutcome.issue`.
public struct OutcomeIssue: Sendable, Equatable, Error, CustomStringConvertible {
    public enum Severity: String, Sendable { case fatal, error, warning, information }

    public let severity: Severity
    /// A code from the FHIR issue-type value set (`invalid`, `required`, `value`, `code-invalid`,
    /// `not-found`, `conflict`, `login`, `lock-error`, `too-costly`, `structure`, ...). Clients branch on it.
    public let code: String
    /// What a person should read.
    public let diagnostics: String
    /// FHIRPath of the offending element, e.g. `Observation.valueQuantity.value`.
    public let expression: String?

    public init(severity: Severity = .error, code: String, diagnostics: String, expression: String? = nil) {
        self.severity = severity
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
    }

    public var description: String {
        if let expression { return "\(expression): \(diagnostics)" }
        return diagnostics
    }
}

/// A FHIR `OperationOutcome`: the body of every error answer.
public struct OperationOutcome: Sendable, Equatable, Error {
    public var issues: [OutcomeIssue]

    public init(_ issues: [OutcomeIssue]) { self.issues = issues }

    public init(code: String, diagnostics: String, expression: String? = nil) {
        self.issues = [OutcomeIssue(code: code, diagnostics: diagnostics, expression: expression)]
    }

    public var json: JSONValue {
        .object([
            "resourceType": "OperationOutcome",
            "issue": .array(issues.map { issue in
                var object: JSONObject = [
                    "severity": .string(issue.severity.rawValue),
                    "code": .string(issue.code),
                    "diagnostics": .string(issue.diagnostics),
                ]
                if let expression = issue.expression { object["expression"] = .array([.string(expression)]) }
                return .object(object)
            }),
        ])
    }

    /// Reads an OperationOutcome sent by a server.
    public init?(json: JSONValue) {
        guard json["resourceType"]?.stringValue == "OperationOutcome", let list = json["issue"]?.arrayValue else {
            return nil
        }
        issues = list.map { item in
            OutcomeIssue(
                severity: OutcomeIssue.Severity(rawValue: item["severity"]?.stringValue ?? "") ?? .error,
                code: item["code"]?.stringValue ?? "unknown",
                diagnostics: item["diagnostics"]?.stringValue ?? item["details"]?["text"]?.stringValue ?? "",
                expression: item["expression"]?.arrayValue?.first?.stringValue)
        }
    }
}
