import Testing

@testable import BedsideServerKit

/// The bound on waiting for a part that will not end: a stop goes on without it instead of hanging.
@Suite("Stopping: waiting for a part at most so long")
struct ShutdownWaitTests {
    @Test("a task that never ends is given up on after the bound; one that ends is answered at once")
    func boundedWait() async {
        let endless = Task { _ = try? await Task.sleep(for: .seconds(3_600)) }
        defer { endless.cancel() }
        let started = ContinuousClock.now
        #expect(await waitForEnd(of: endless, atMost: .milliseconds(300)) == false)
        // Not to the millisecond: among 500 tests starting at once on two cores, Swift's two pool threads
        // are busy and a timer fires late (21 s in one CI run). What is pinned: the answer, and an end.
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(300) && waited < .seconds(120), "\(waited)")

        let ended = Task {}
        _ = await ended.value
        let again = ContinuousClock.now
        #expect(await waitForEnd(of: ended, atMost: .seconds(60)) == true)
        #expect(ContinuousClock.now - again < .seconds(60))

        // One that ends while waited for: its end is the answer, not the bound.
        let brief = Task { _ = try? await Task.sleep(for: .milliseconds(200)) }
        #expect(await waitForEnd(of: brief, atMost: .seconds(60)) == true)
    }
}
