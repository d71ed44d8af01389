import BedsideCore
import Foundation
import Testing

@testable import BedsideStore

@Suite("Questionnaire responses in the store: drafts, the queue, refusals")
struct QuestionnaireResponseStoreTests {
    func payload(_ answer: String, page: Int = 1) -> JSONValue {
        ["questionnaire": "q1", "title": "Check-in", "answers": [["linkId": "note", "answer": [["valueString": .string(answer)]]]], "page": .number(page)]
    }

    func firstAnswer(_ payload: JSONValue) -> String? {
        payload["answers"]?.arrayValue?.first?["answer"]?.arrayValue?.first?["valueString"]?.stringValue
    }

    @Test("a draft is kept under its assignment, replaced as answers come, and reopened as it was")
    func draftRoundTrip() throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        #expect(try store.draft(taskID: "task-1") == nil)
        #expect(try store.responseState(taskID: "task-1") == nil)
        try store.saveDraft(id: "r1", taskID: "task-1", payload: payload("first"), now: 1)
        try store.saveDraft(id: "r1", taskID: "task-1", payload: payload("second", page: 3), now: 2)
        let draft = try #require(try store.draft(taskID: "task-1"))
        #expect(draft.id == "r1")
        #expect(draft.taskID == "task-1")
        #expect(firstAnswer(draft.payload) == "second")
        #expect(draft.payload["page"]?.intValue == 3)
        #expect(try store.responseState(taskID: "task-1") == .draft)
        #expect(try store.draft(taskID: "task-2") == nil)
        // A draft is not something to send.
        #expect(try store.unsentCount() == 0)
        #expect(try store.responseOutbox(limit: 10).isEmpty)
    }

    @Test("finishing queues the response in the same transaction; a finished response cannot be changed as a draft")
    func submitQueues() throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        try store.saveDraft(id: "r1", taskID: "task-1", payload: payload("answer"), now: 1)
        var finished = payload("answer").objectValue ?? [:]
        finished["response"] = ["resourceType": "QuestionnaireResponse", "status": "completed"]
        try store.submitResponse(id: "r1", taskID: "task-1", payload: .object(finished), now: 2)
        #expect(try store.unsentCount() == 1)
        #expect(try store.draft(taskID: "task-1") == nil)
        #expect(try store.responseState(taskID: "task-1") == .queued)
        let queued = try store.responseOutbox(limit: 10)
        #expect(queued.map(\.response.id) == ["r1"])
        #expect(queued.first?.response.payload["response"]?["status"]?.stringValue == "completed")
        #expect(throws: StoreError.alreadySent) { try store.saveDraft(id: "r1", taskID: "task-1", payload: payload("late"), now: 3) }
        #expect(throws: StoreError.alreadySent) { try store.submitResponse(id: "r1", taskID: "task-1", payload: .object(finished), now: 3) }
        // Measurements' queue is not disturbed by it.
        #expect(try store.outbox(limit: 10).isEmpty)

        try store.acknowledge([.init(id: "r1", operation: .respond, serverID: "qr-9", version: 1)], now: 4)
        #expect(try store.unsentCount() == 0)
        #expect(try store.responseState(taskID: "task-1") == .sent)
    }

    @Test("a refused response is kept with the reason; discarding it makes it a draft again, answers intact")
    func refusedBecomesDraft() throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        var finished = payload("keep me").objectValue ?? [:]
        finished["response"] = ["resourceType": "QuestionnaireResponse"]
        try store.submitResponse(id: "r1", taskID: "task-1", payload: .object(finished), now: 1)
        try store.markRejected(id: "r1", reason: "Task/task-1 is not yours", now: 2)
        #expect(try store.unsentCount() == 0)
        #expect(try store.rejectedCount() == 1)
        #expect(try store.responseState(taskID: "task-1") == .refused)
        let refused = try store.refusedResponses(limit: 10)
        #expect(refused.map(\.reason) == ["Task/task-1 is not yours"])
        try store.resend(id: "r1", now: 3)
        #expect(try store.responseState(taskID: "task-1") == .queued)
        try store.markRejected(id: "r1", reason: "still no", now: 4)
        try store.discardRejected(id: "r1", now: 5)
        #expect(try store.rejectedCount() == 0)
        let draft = try #require(try store.draft(taskID: "task-1"))
        #expect(firstAnswer(draft.payload) == "keep me")
    }

    @Test("answers and the assignment's id never reach a file in clear")
    func sealed() throws {
        let fixture = try StoreFixture()
        let store = fixture.store
        let sentinel = "SENTINEL-ANSWER-7f3e-breathless"
        let taskID = "TASKID-3c9a1d77-sentinel"
        try store.saveDraft(id: "r1", taskID: taskID, payload: payload(sentinel), now: 1)
        var finished = payload(sentinel).objectValue ?? [:]
        finished["response"] = ["resourceType": "QuestionnaireResponse", "item": [["linkId": "note", "answer": [["valueString": .string(sentinel)]]]]]
        try store.submitResponse(id: "r1", taskID: taskID, payload: .object(finished), now: 2)
        try store.saveDraft(id: "r2", taskID: "other", payload: payload(sentinel), now: 3)
        for secret in [sentinel, taskID] {
            for form in encodings(of: secret) {
                for (name, bytes) in try fixture.allBytes() {
                    #expect(bytes.range(of: form) == nil, "\(secret) leaked into \(name)")
                }
            }
        }
    }
}
