import Foundation
import Testing
import CAllocationCounter
@testable import ReflexEngine

@Suite struct AllocationTests {
    /// With two threads too: `ComputePool.run` takes `ParallelJob` structs, not closures (handing a
    /// closure to the workers allocated a context per parallel region).
    @Test(arguments: [("tiny", 1), ("tiny", 2), ("tiny-int8", 1), ("tiny-int8", 2)])
    func aStepAllocatesNothingAfterWarmUp(fixture: String, threads: Int) throws {
        guard reflex_thread_allocations() >= 0 else { Issue.record("allocation counter needs glibc"); return }
        let p = MultiExitPolicy(bundle: try ModelBundle(directory: FixturePaths.bundle(fixture)))
        let ws = p.makeWorkspace(threads: threads)
        var state = p.makeState(), out = p.makeOutput()
        let img = (0..<(32 * 32 * 3)).map { UInt8(($0 * 13) % 256) }
        let st: [Float] = [0.3, 0.1, -0.4, 0.2]
        let words = p.tokenizer.tokenize("open the drawer").ids
        var rules = (1...p.cost.exits).map { FixedExitRule(exit: $0) }
        try img.withUnsafeBytes { i in
            try st.withUnsafeBytes { s in
                let obs = Observation(image: i, state: s, words: words)
                for k in 0..<3 { try p.step(obs, state: &state, rule: &rules[k % rules.count], workspace: ws, output: &out) }
                let before = reflex_thread_allocations()
                for k in 0..<30 { try p.step(obs, state: &state, rule: &rules[k % rules.count], workspace: ws, output: &out) }
                let after = reflex_thread_allocations()
                #expect(after - before == 0, "\(after - before) heap allocations in 30 steps")
            }
        }
    }
}

extension AllocationTests {
    @Test func aStepOfATwoCameraChunkModelAllocatesNothingAfterWarmUp() throws {
        guard reflex_thread_allocations() >= 0 else { Issue.record("allocation counter needs glibc"); return }
        let p = MultiExitPolicy(bundle: try ModelBundle(directory: FixturePaths.bundle("tiny-chunked")))
        let ws = p.makeWorkspace()
        var state = p.makeState(), out = p.makeOutput()
        #expect(out.action.count == 8 * 4)
        let scene = (0..<(32 * 32 * 3)).map { UInt8(($0 * 13) % 256) }, wrist = (0..<(16 * 24 * 3)).map { UInt8(($0 * 7) % 256) }
        let st: [Float] = [0.3, 0.1, -0.4, 0.2, 0.0, 1.0]
        let words = p.tokenizer.tokenize("open the drawer").ids
        var rules = (1...p.cost.exits).map { FixedExitRule(exit: $0) }
        try scene.withUnsafeBytes { i in
            try wrist.withUnsafeBytes { w in
                try st.withUnsafeBytes { s in
                    let obs = Observation(images: [i, w], state: s, words: words)
                    for k in 0..<3 { try p.step(obs, state: &state, rule: &rules[k % rules.count], workspace: ws, output: &out) }
                    let before = reflex_thread_allocations()
                    for k in 0..<30 { try p.step(obs, state: &state, rule: &rules[k % rules.count], workspace: ws, output: &out) }
                    let after = reflex_thread_allocations()
                    #expect(after - before == 0, "\(after - before) heap allocations in 30 steps")
                }
            }
        }
    }
}
