import Testing

@testable import BedsideServerKit

@Suite("Server errors: status and Retry-After")
struct ServerErrorTests {
    @Test("every 503 says when to come back (the audit trail or mail away, the database away or in a collision); what will not do better later says nothing")
    func retryAfter() {
        func storage(_ code: PostgresStoreError.Code) -> ServerError { .storage(PostgresStoreError(code: code, message: "test")) }
        let transient: [(ServerError, Int)] = [
            (FHIRService.unrecorded, ServerError.storageRetrySeconds), (.unavailable("mail is away", retryAfterSeconds: 120), 120),
            (.busy(retryAfterSeconds: 7), 7), (storage(.unavailable), 5), (storage(.timedOut), 5), (storage(.conflict), 5),
        ]
        for (error, seconds) in transient {
            #expect(error.status == 503 && error.retryAfterSeconds == seconds, "\(error)")
        }
        #expect(ServerError.throttled(retryAfterSeconds: 30).retryAfterSeconds == 30)
        #expect(ServerError.locked(retryAfterSeconds: 900).retryAfterSeconds == 900)
        let final: [(ServerError, Int)] = [
            (storage(.refused), 500), (storage(.commitUnknown), 500), (storage(.unstorableValue), 400), (.badRequest("no"), 400),
        ]
        for (error, status) in final {
            #expect(error.status == status && error.retryAfterSeconds == nil, "\(error)")
        }
    }
}
