import Foundation
import Synchronization

/// Splits one step's work across a fixed number of threads: the caller runs part 0, each worker
/// one other part. Workers spin briefly for the next job (a step hands out dozens of jobs a few
/// microseconds apart) and then sleep, so an idle daemon burns no CPU.
///
/// Why not BLAS's own threads: OpenBLAS starts and joins its threads per call and, at the small
/// row counts of a policy step (tens of tokens), two threads ran 3–5× slower than one here.
public final class ComputePool: @unchecked Sendable {
    public let threads: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let lock = NSCondition()
    /// The running job, valid while `run` waits for the workers.
    private var job: (any ErasedJob)?
    private var workers: [Thread] = []
    private let stopFlag = Atomic<Bool>(false)
    private let live = Atomic<Int>(0)
    /// How long a worker spins for the next job before it sleeps.
    private static let spinIterations = 200_000

    public init(threads: Int) {
        self.threads = max(1, threads)
        live.store(self.threads - 1, ordering: .sequentiallyConsistent)
        for part in 1..<self.threads {
            // Workers hold the pool until `stop()`; the owner (a workspace) calls it in its deinit.
            let t = Thread { self.workerLoop(part: part); self.live.subtract(1, ordering: .sequentiallyConsistent) }
            t.stackSize = 1 << 20
            t.start()
            workers.append(t)
        }
    }

    /// Ends the workers and waits until they have returned.
    public func stop() {
        guard threads > 1, !stopFlag.load(ordering: .acquiring) else { return }
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        lock.lock()
        generation.add(1, ordering: .sequentiallyConsistent)
        lock.broadcast()
        lock.unlock()
        while live.load(ordering: .sequentiallyConsistent) > 0 { usleep(100) }
        workers.removeAll()
    }

    /// Runs `job.run(part:)` for every part in `0..<threads`, part 0 on the calling thread; returns
    /// when all are done. Allocates nothing: the workers read the job through a pointer to this
    /// frame's copy, wrapped in an existential small enough to be stored inline.
    public func run<Job: ParallelJob>(_ job: Job) {
        guard threads > 1 else { job.run(part: 0); return }
        withUnsafePointer(to: job) { pointer in
            self.job = JobPointer(job: pointer)
            remaining.store(threads - 1, ordering: .releasing)
            // Sequentially consistent with the worker's sleepers/generation pair, so that either
            // the worker sees the new job or this thread sees the sleeper and wakes it.
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                lock.lock(); lock.broadcast(); lock.unlock()
            }
            job.run(part: 0)
            while remaining.load(ordering: .acquiring) > 0 {}
            self.job = nil
        }
    }

    private func workerLoop(part: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins > Self.spinIterations {
                    lock.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { lock.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    lock.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopFlag.load(ordering: .acquiring) { return }
            job?.run(part: part)
            remaining.subtract(1, ordering: .acquiringAndReleasing)
        }
    }

    /// The half-open range of `0..<count` that `part` handles, in multiples of `align`.
    @inline(__always)
    public func slice(_ count: Int, part: Int, align: Int = 16) -> Range<Int> {
        let chunks = (count + align - 1) / align
        let lo = chunks * part / threads * align, hi = min(count, chunks * (part + 1) / threads * align)
        return min(lo, count)..<hi
    }
}

/// A job seen through a pointer: one word, so `any ErasedJob` holds it without a heap box.
private protocol ErasedJob { func run(part: Int) }
private struct JobPointer<Job: ParallelJob>: ErasedJob {
    let job: UnsafePointer<Job>
    func run(part: Int) { job.pointee.run(part: part) }
}
