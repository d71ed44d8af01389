import BedsideCore

/// Every way a request can fail, each with its HTTP status and the OperationOutcome the client reads.
public enum ServerError: Error, Sendable {
    /// 400: the request cannot be read (malformed JSON, bad parameter).
    case badRequest(String, expression: String? = nil, code: String = "structure")
    /// 401 on the login endpoints.
    case unauthorized(String)
    /// 401 at the code step when the code can no longer be used (expired, used, no tries left): issue code
    /// `expired`, so a client knows to start the login again rather than to let the code be retyped.
    case codeExpired(String)
    /// 401 on everything else: no, expired or revoked token.
    case unauthenticated(String)
    /// 403: a backend client's token has no scope for this (people get 404 instead: no existence oracle).
    case forbidden(String)
    /// 404: absent, or not this user's to see; the two are deliberately indistinguishable.
    case notFound(String)
    case methodNotAllowed(String)
    /// 412: If-Match named an older version.
    case preconditionFailed(String)
    /// 413
    case tooLarge(limit: Int)
    /// 413: a request that asks for more work than one request may (e.g. too many batch entries).
    case tooCostly(String)
    /// 415
    case unsupportedMediaType(String)
    /// 406: the client asked for a format this server does not write (it writes FHIR JSON only).
    case notAcceptable(String)
    /// 422: readable but not acceptable; the outcome names each offending element.
    case invalid(OperationOutcome)
    /// 423 with Retry-After.
    case locked(retryAfterSeconds: Int)
    /// 428: an update without If-Match.
    case preconditionRequired(String)
    /// 429 with Retry-After: this session (or address) used up its request budget.
    case throttled(retryAfterSeconds: Int)
    /// 503 with Retry-After: something the request needs is away for a moment (the audit trail, mail).
    case unavailable(String, retryAfterSeconds: Int = ServerError.storageRetrySeconds)
    /// 503 with Retry-After: the server is at a bound it keeps for its own protection (password checks).
    case busy(retryAfterSeconds: Int)
    /// 500: the store failed. The detail is logged, never sent.
    case storage(any Error)

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .unauthorized, .unauthenticated, .codeExpired: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .preconditionFailed: 412
        case .tooLarge, .tooCostly: 413
        case .unsupportedMediaType: 415
        case .notAcceptable: 406
        case .invalid: 422
        case .locked: 423
        case .preconditionRequired: 428
        case .throttled: 429
        case .unavailable, .busy: 503
        case .storage(let underlying): Self.isTransient(underlying) ? 503 : Self.isUnstorable(underlying) ? 400 : 500
        }
    }

    public var outcome: OperationOutcome {
        switch self {
        case .badRequest(let message, let expression, let code):
            OperationOutcome(code: code, diagnostics: message, expression: expression)
        case .unauthorized(let message): OperationOutcome(code: "login", diagnostics: message)
        case .codeExpired(let message): OperationOutcome(code: "expired", diagnostics: message)
        case .unauthenticated(let message): OperationOutcome(code: "login", diagnostics: message)
        case .forbidden(let message): OperationOutcome(code: "forbidden", diagnostics: message)
        case .notFound(let message): OperationOutcome(code: "not-found", diagnostics: message)
        case .methodNotAllowed(let message): OperationOutcome(code: "not-supported", diagnostics: message)
        case .preconditionFailed(let message): OperationOutcome(code: "conflict", diagnostics: message)
        case .tooLarge(let limit):
            OperationOutcome(code: "too-costly", diagnostics: "The request body is larger than the limit of \(limit) bytes.")
        case .tooCostly(let message): OperationOutcome(code: "too-costly", diagnostics: message)
        case .unsupportedMediaType(let message): OperationOutcome(code: "not-supported", diagnostics: message)
        case .notAcceptable(let message): OperationOutcome(code: "not-supported", diagnostics: message)
        case .invalid(let outcome): outcome
        case .locked(let seconds):
            OperationOutcome(
                code: "lock-error",
                diagnostics: "Too many failed attempts: this account is locked. Try again in \((seconds + 59) / 60) minutes.")
        case .preconditionRequired(let message): OperationOutcome(code: "required", diagnostics: message)
        case .throttled(let seconds):
            OperationOutcome(
                code: "throttled",
                diagnostics: "Too many requests in a short time. Try again in \(seconds) \(seconds == 1 ? "second" : "seconds").")
        case .unavailable(let message, _): OperationOutcome(code: "transient", diagnostics: message)
        case .busy(let seconds):
            OperationOutcome(code: "transient", diagnostics: "The server is busy. Try again in \(seconds) seconds.")
        case .storage(let underlying) where Self.isTransient(underlying):
            OperationOutcome(
                code: "transient", diagnostics: "The database is not available at the moment. Try again in \(Self.storageRetrySeconds) seconds.")
        case .storage(let underlying) where (underlying as? PostgresStoreError)?.code == .commitUnknown:
            OperationOutcome(
                code: "exception",
                diagnostics: "The database stopped answering as this change was being saved: it may or may not be stored. "
                    + "Sending it again is safe with ifNoneExist (or If-Match); otherwise look for it first.")
        case .storage(let underlying) where Self.isUnstorable(underlying):
            OperationOutcome(
                code: "invalid",
                diagnostics: "A value in this request cannot be stored: it holds a character the database refuses (such as U+0000) "
                    + "or is too long to be indexed. Nothing was changed.")
        case .storage: OperationOutcome(code: "exception", diagnostics: "The server could not complete the request. Try again later.")
        }
    }

    /// The answer's Retry-After: when trying again later may succeed, in how many seconds (nil: it will not,
    /// as it is).
    public var retryAfterSeconds: Int? {
        switch self {
        case .locked(let seconds), .throttled(let seconds), .busy(let seconds), .unavailable(_, let seconds): seconds
        case .storage(let underlying) where Self.isTransient(underlying): Self.storageRetrySeconds
        default: nil
        }
    }

    /// How long a client is asked to wait when the database is not available (503 with Retry-After).
    public static let storageRetrySeconds = 5

    /// A value the database refused as such (PostgreSQL: a character its text cannot hold, an index entry
    /// too large): the request's fault, answered 400, never retried. Checks before the store refuse these
    /// the same way on both backends; this is the net under them.
    static func isUnstorable(_ error: any Error) -> Bool {
        (error as? PostgresStoreError)?.code == .unstorableValue
    }

    /// A database that is down, restarting, too slow or in a collision: trying again later may succeed.
    static func isTransient(_ error: any Error) -> Bool {
        guard let database = error as? PostgresStoreError else { return false }
        return database.code == .unavailable || database.code == .timedOut || database.code == .conflict
    }
}
