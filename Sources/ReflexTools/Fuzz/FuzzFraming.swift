import ReflexDaemon
/// The file format of wire fuzz inputs (`Tests/Fixtures/fuzz-corpus/wire/*.bin`): one multipart
/// message as the ROUTER socket receives it, each frame as `[u32 little-endian length][bytes]`.
public enum FuzzFraming {
    /// The frames in the file format.
    public static func encode(_ frames: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frames.reduce(0) { $0 + 4 + $1.count })
        for frame in frames {
            let length = UInt32(frame.count)
            bytes.append(contentsOf: [UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8),
                                      UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 24)])
            bytes.append(contentsOf: frame)
        }
        return bytes
    }

    /// The frames of a well-formed file, or nil when a length runs past the end.
    public static func decode(_ bytes: [UInt8]) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { return nil }
            let length = Int(readLength(bytes, at: offset))
            offset += 4
            guard length <= bytes.count - offset else { return nil }
            frames.append(Array(bytes[offset..<offset + length]))
            offset += length
        }
        return frames
    }

    /// Reads any bytes as frames, the way a mutated file is read: a length that runs past the
    /// end takes what is left, and a stub shorter than a length becomes a frame of its own.
    static func decodeLenient(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else {
                frames.append(Array(bytes[offset...]))
                break
            }
            let length = Int(readLength(bytes, at: offset))
            offset += 4
            let end = offset + min(length, bytes.count - offset)
            frames.append(Array(bytes[offset..<end]))
            offset = end
        }
        return frames
    }

    private static func readLength(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }
}
