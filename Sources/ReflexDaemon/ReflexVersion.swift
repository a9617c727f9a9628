public enum ReflexVersion { public static let string = "0.1.0" }
