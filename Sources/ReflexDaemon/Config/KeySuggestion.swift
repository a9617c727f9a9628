/// Finds the key a user probably meant, for "unknown key (did you mean ...?)".
enum KeySuggestion {
    /// The closest of `candidates` to `key` within a small edit distance, or the full path of a
    /// known key with that exact name in another section; nil when nothing is close.
    static func suggestion(for key: String, among candidates: [String], section: String) -> String? {
        let lowered = key.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate)
            let isPrefix = lowered.count >= 3 && (candidate.hasPrefix(lowered) || lowered.hasPrefix(candidate))
            guard distance <= allowedDistance(for: candidate) || isPrefix else { continue }
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        if let best { return best.candidate }
        // A right key in the wrong place: name it with its full path.
        let ownPath = section.isEmpty ? lowered : section + "." + lowered
        return ConfigRules.allKeyPaths.first { path in
            path != ownPath && path.split(separator: ".").last.map(String.init) == lowered
        }
    }

    /// Short keys tolerate one typo, longer ones more.
    private static func allowedDistance(for candidate: String) -> Int {
        switch candidate.count {
        case ..<5: return 1
        case ..<9: return 2
        default: return 3
        }
    }

    /// Levenshtein distance over Unicode scalars.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
