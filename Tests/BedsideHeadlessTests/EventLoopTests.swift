@testable import BedsideApp
import BedsideCore
import BedsideUI
import Foundation
import Testing

@testable import BedsideHeadless

/// The one event loop, driven from a virtual terminal as scripts drive it: what it draws and when,
/// its clock, its input, and the threaded run a real terminal uses.
@Suite("Event loop")
struct EventLoopTests {
    /// A loop on the login screen (no server is needed to type into it).
    func loop(width: Int = 80, height: Int = 24) -> (EventLoop, VirtualTerminal, ManualClock) {
        let clock = ManualClock(epochMilliseconds: journeyStart)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("event-loop-\(UUID().uuidString)")
        var configuration = ClientConfiguration(dataDirectory: directory, server: "https://127.0.0.1:9", transport: .init())
        configuration.kdf = .testing
        let core = ClientCore(configuration: configuration, clock: clock)
        let terminal = VirtualTerminal(width: width, height: height)
        let state = configuration.initialState(width: width, height: height, now: clock.now(), utcOffsetSeconds: 0, idSeed: 1)
        return (EventLoop(state: state, core: core, clock: clock, device: terminal), terminal, clock)
    }

    @Test("a frame is drawn only when it changed: a key that changes nothing draws nothing")
    func drawsChangesOnly() async {
        let (loop, terminal, _) = loop()
        loop.start()
        await loop.settle()
        #expect(terminal.draws == 1)
        #expect(terminal.screen.text.contains("Log in"))
        terminal.send(.key(.character("a")))
        await loop.settle()
        #expect(terminal.draws == 2)
        #expect(terminal.screen.text.contains("a"))
        terminal.send(.key(.function(12)))
        await loop.settle()
        #expect(terminal.draws == 2, "F12 changes nothing on the login screen")
    }

    @Test("the loop ticks once a second of its clock, and when the clock goes back")
    func ticks() async {
        let (loop, _, clock) = loop()
        loop.start()
        await loop.settle()
        let start = loop.state.now
        clock.advance(milliseconds: 600)
        await loop.settle()
        #expect(loop.state.now == start, "not yet a second")
        clock.advance(milliseconds: 600)
        await loop.settle()
        #expect(loop.state.now == start + 1_200)
        clock.advance(milliseconds: -5_000)
        await loop.settle()
        #expect(loop.state.now == start - 3_800, "a clock set back is followed at once")
    }

    @Test("a resize reaches the state and the next frame has the new size")
    func resize() async {
        let (loop, terminal, _) = loop()
        loop.start()
        terminal.send(.resize(width: 120, height: 40))
        await loop.settle()
        #expect(loop.state.width == 120 && loop.state.height == 40)
        #expect(terminal.screen.width == 120 && terminal.screen.height == 40)
    }

    @Test("the threaded run a terminal uses: input is read, SIGTERM ends it, and the key is dropped on the way out")
    func threadedRun() async {
        let (loop, terminal, _) = loop()
        terminal.send(.key(.character("x")))
        terminal.send(.terminate)
        let final = await loop.run()
        #expect(final.quitting)
        #expect(terminal.screen.text.contains("Log in"))
        guard case .login(let form) = final.screen else { Issue.record("not on the login screen"); return }
        #expect(form.email.text == "x", "the key before SIGTERM was handled")
    }
}
