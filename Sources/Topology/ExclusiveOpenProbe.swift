#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an exclusive open of a block device said.
public enum ExclusiveOpenResult: Sendable, Hashable {
    /// The open succeeded (and the file was closed at once): nothing holds the device exclusively.
    case free
    /// `EBUSY`: a mounted filesystem, a ZFS pool, btrfs, md, device-mapper or another exclusive user holds it.
    case held
    /// The probe could not tell (no device node, not a block device, another errno): the reason, for `problems`.
    case unknown(String)
}

/// Asks whether a block device refuses an exclusive open. The analysis asks only for disks it found no other use of.
public protocol BlockDeviceProbe: Sendable {
    /// `name` is the kernel name (`sdb`, `nvme0n1`), `majorMinor` its `dev` (`8:16`).
    func exclusiveOpen(name: String, majorMinor: String) -> ExclusiveOpenResult
}

/// The real probe: `open(2)` of `DEV/block/MAJOR:MINOR` (udev's link), else `DEV/NAME` (devtmpfs), with
/// `O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC`, closed at once. Only a node whose `stat(2)` says it is that very block
/// device is opened. A read-only exclusive open changes nothing on the device (no write, no udev `change` event,
/// which only a close after writing triggers); while it is open, another exclusive open (a `mount`) would get `EBUSY`
/// for those microseconds.
///
/// Used only with the running host's `/dev` (``HostUseSources/inferred(sysfs:proc:)``); tests inject their own probe.
public struct ExclusiveOpenProbe: BlockDeviceProbe {
    public let dev: String

    public init(dev: String) {
        self.dev = dev
    }

    public func exclusiveOpen(name: String, majorMinor: String) -> ExclusiveOpenResult {
        let parts = majorMinor.split(separator: ":")
        guard parts.count == 2, let major = UInt32(parts[0]), let minor = UInt32(parts[1]) else {
            return .unknown("\(name): dev \"\(majorMinor)\" is not MAJOR:MINOR")
        }
        for path in ["\(dev)/block/\(majorMinor)", "\(dev)/\(name)"] {
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            guard info.st_mode & S_IFMT == S_IFBLK, Self.major(info.st_rdev) == major, Self.minor(info.st_rdev) == minor else {
                continue
            }
            let fd = open(path, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 {
                close(fd)
                return .free
            }
            let code = errno
            if code == EBUSY { return .held }
            return .unknown("open \(path) O_EXCL: \(String(cString: strerror(code)))")
        }
        return .unknown("\(name): no block device node \(majorMinor) under \(dev)")
    }

    /// `major(3)`/`minor(3)` of glibc's encoding of `dev_t`.
    static func major(_ device: dev_t) -> UInt32 {
        UInt32(truncatingIfNeeded: ((UInt64(device) >> 8) & 0xfff) | ((UInt64(device) >> 32) & 0xffff_f000))
    }

    static func minor(_ device: dev_t) -> UInt32 {
        UInt32(truncatingIfNeeded: (UInt64(device) & 0xff) | ((UInt64(device) >> 12) & 0xffff_ff00))
    }
}
