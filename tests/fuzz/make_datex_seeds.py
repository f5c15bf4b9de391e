#!/usr/bin/env python3
"""Writes the datex_frame seeds: S/5 displayed-values records framed as the monitor sends them
(struct layouts from the Datex-Ohmeda S/5 Computer Interface Specification's dri_phdb, as in
VSCapture). Independent of the driver's C++ encoder. Run in tests/fuzz/corpus/datex_frame/."""
import struct

def frame(record):
    out = bytearray([0x7E])
    for b in record + bytes([sum(record) & 0xFF]):
        if b in (0x7E, 0x7D):
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)

def group(values, status=3):
    return struct.pack('<IH', status, 0) + struct.pack('<%dh' % len(values), *values)

def basic(hr, sys_, dia, mean, spo2, pr, et, rr, amb, nibp_status=3):
    b = group([hr, 0, 0, 0, 0])                      # ecg 16
    b += b''.join(group([0, 0, 0, 0], 0) for _ in range(4))  # p1..p4 56
    b += group([sys_, dia, mean, 0], nibp_status)     # nibp 14
    b += b''.join(group([0], 0) for _ in range(4))   # t1..t4 32
    b += group([spo2, pr, 0, 0])                      # SpO2 14
    b += group([et, 0, rr, amb])                      # co2 14
    b += bytes(270 - len(b))
    assert len(b) == 270
    return b

def record(level, body, time=1700000000, nbr=1):
    sub = struct.pack('<I', time) + body + bytes([0, 0]) + struct.pack('<H', 0 << 8 | 1)
    assert len(sub) == 278
    hdr = struct.pack('<hBBHIBBHh', 40 + len(sub), nbr, level, 0, time, 0, 0, 0, 0)
    hdr += struct.pack('<hB', 0, 1) + struct.pack('<hB', 0, 0xFF) * 7
    assert len(hdr) == 40
    return hdr + sub

good = record(9, basic(72, 12000, 8000, 9300, 9700, 71, 510, 14, 7600))
open('displayed_values.bin', 'wb').write(frame(good))
# Values whose bytes are 0x7E / 0x7D: escapes in the frame.
escaped = record(9, basic(0x7E, 0x7D7E, 0x7E7D, 9300, 0x7E00, 0x7D, 510, 14, 7600))
open('escaped_bytes.bin', 'wb').write(frame(escaped))
# Markers: -32767 invalid, -32766 not updated, -32764, -32763, -32762.
markers = record(8, basic(-32767, -32766, -32764, -32763, -32762, -32767, -32767, -32767, 7600))
open('markers.bin', 'wb').write(frame(markers))
bad = bytearray(frame(good)); bad[-2] ^= 0x01
open('garbage_bad_checksum_then_good.bin', 'wb').write(b'\x00\x01noise' + bytes(bad) + frame(good) + frame(good)[:100])
open('two_records.bin', 'wb').write(frame(good) + frame(record(9, basic(73, 12100, 8100, 9400, 9600, 73, 520, 15, 7600), nbr=2)))
