//go:build !purego

#include "textflag.h"

// AVX-512 forms of hash9, hash5, rowFold and rowFinish (digest.go), eight
// values at a time in the 64-bit lanes of a ZMM register. Each computes
// exactly the scalar function in every lane; digest_amd64_test.go checks
// them against it. n is a multiple of 8; the Go wrappers do the rest.

#define PRIME1 $0x9E3779B185EBCA87
#define PRIME2 $0xC2B2AE3D27D4EB4F
#define PRIME3 $0x165667B19E3779F9
#define PRIME4 $0x85EBCA77C2B2AE63
#define PRIME5 $0x27D4EB2F165667C5

// Byte shuffles that turn a lane's value v into the message's first word
// without its tag byte: for hash9 the bytes 0, v7, v6, ..., v1 (v
// big-endian after the tag), for hash5 the bytes 0, v3, v2, v1. An index
// with its top bit set writes a zero; VPSHUFB works within 128-bit lanes,
// hence the second quadword's indexes start at 8.
DATA shuf9<>+0x00(SB)/8, $0x0102030405060780
DATA shuf9<>+0x08(SB)/8, $0x090a0b0c0d0e0f80
DATA shuf9<>+0x10(SB)/8, $0x0102030405060780
DATA shuf9<>+0x18(SB)/8, $0x090a0b0c0d0e0f80
DATA shuf9<>+0x20(SB)/8, $0x0102030405060780
DATA shuf9<>+0x28(SB)/8, $0x090a0b0c0d0e0f80
DATA shuf9<>+0x30(SB)/8, $0x0102030405060780
DATA shuf9<>+0x38(SB)/8, $0x090a0b0c0d0e0f80
GLOBL shuf9<>(SB), RODATA|NOPTR, $64

DATA shuf5<>+0x00(SB)/8, $0x8080808001020380
DATA shuf5<>+0x08(SB)/8, $0x80808080090a0b80
DATA shuf5<>+0x10(SB)/8, $0x8080808001020380
DATA shuf5<>+0x18(SB)/8, $0x80808080090a0b80
DATA shuf5<>+0x20(SB)/8, $0x8080808001020380
DATA shuf5<>+0x28(SB)/8, $0x80808080090a0b80
DATA shuf5<>+0x30(SB)/8, $0x8080808001020380
DATA shuf5<>+0x38(SB)/8, $0x80808080090a0b80
GLOBL shuf5<>(SB), RODATA|NOPTR, $64

// AVALANCHE is xxAvalanche of reg, with prime2 in p2 and prime3 in p3;
// tmp is clobbered.
#define AVALANCHE(reg, tmp, p2, p3) \
	VPSRLQ  $33, reg, tmp \
	VPXORQ  tmp, reg, reg \
	VPMULLQ p2, reg, reg  \
	VPSRLQ  $29, reg, tmp \
	VPXORQ  tmp, reg, reg \
	VPMULLQ p3, reg, reg  \
	VPSRLQ  $32, reg, tmp \
	VPXORQ  tmp, reg, reg

// func hash9x8(dst, src *uint64, n int, tag uint64, signed32 bool)
// dst[i] = hash9(tag, src[i]); with signed32, src holds int32 values
// that are sign-extended first.
TEXT ·hash9x8(SB), NOSPLIT, $0-33
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ PRIME1, AX
	VPBROADCASTQ AX, Z28
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME3, AX
	VPBROADCASTQ AX, Z27
	MOVQ PRIME4, AX
	VPBROADCASTQ AX, Z30
	MOVQ PRIME5, AX
	VPBROADCASTQ AX, Z31
	ADDQ $9, AX
	VPBROADCASTQ AX, Z26 // the seed: prime5 + length
	MOVQ tag+24(FP), AX
	VPBROADCASTQ AX, Z25
	MOVQ $0xff, AX
	VPBROADCASTQ AX, Z23
	VMOVDQU64 shuf9<>(SB), Z24
	MOVBLZX signed32+32(FP), BX
	SHRQ $3, CX
	JZ   done9

loop9:
	TESTQ BX, BX
	JNZ  load32
	VMOVDQU64 (SI), Z0
	ADDQ $64, SI
	JMP  loaded

load32:
	VPMOVSXDQ (SI), Z0
	ADDQ $32, SI

loaded:
	VPSHUFB Z24, Z0, Z1
	VPORQ   Z25, Z1, Z1  // k = tag | bswap(v)<<8
	VPMULLQ Z29, Z1, Z1
	VPROLQ  $31, Z1, Z1
	VPMULLQ Z28, Z1, Z1  // xxRound(0, k)
	VPXORQ  Z26, Z1, Z1
	VPROLQ  $27, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	VPADDQ  Z30, Z1, Z1
	VPANDQ  Z23, Z0, Z2  // the last message byte: v's lowest
	VPMULLQ Z31, Z2, Z2
	VPXORQ  Z2, Z1, Z1
	VPROLQ  $11, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	AVALANCHE(Z1, Z2, Z29, Z27)
	VMOVDQU64 Z1, (DI)
	ADDQ $64, DI
	DECQ CX
	JNZ  loop9

done9:
	VZEROUPPER
	RET

// func hash5x8(dst *uint64, src *uint32, n int, tag uint64)
// dst[i] = hash5(tag, src[i]).
TEXT ·hash5x8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ PRIME1, AX
	VPBROADCASTQ AX, Z28
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME3, AX
	VPBROADCASTQ AX, Z27
	MOVQ PRIME5, AX
	VPBROADCASTQ AX, Z31
	ADDQ $5, AX
	VPBROADCASTQ AX, Z26
	MOVQ tag+24(FP), AX
	VPBROADCASTQ AX, Z25
	MOVQ $0xff, AX
	VPBROADCASTQ AX, Z23
	VMOVDQU64 shuf5<>(SB), Z24
	SHRQ $3, CX
	JZ   done5

loop5:
	VPMOVZXDQ (SI), Z0
	VPSHUFB Z24, Z0, Z1
	VPORQ   Z25, Z1, Z1  // the first four message bytes
	VPMULLQ Z28, Z1, Z1
	VPXORQ  Z26, Z1, Z1
	VPROLQ  $23, Z1, Z1
	VPMULLQ Z29, Z1, Z1
	VPADDQ  Z27, Z1, Z1
	VPANDQ  Z23, Z0, Z2
	VPMULLQ Z31, Z2, Z2
	VPXORQ  Z2, Z1, Z1
	VPROLQ  $11, Z1, Z1
	VPMULLQ Z28, Z1, Z1
	AVALANCHE(Z1, Z2, Z29, Z27)
	VMOVDQU64 Z1, (DI)
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop5

done5:
	VZEROUPPER
	RET

// SUM8 leaves the sum of the eight lanes of Z0 in AX; Z1 is clobbered.
#define SUM8 \
	VEXTRACTI64X4 $1, Z0, Y1 \
	VPADDQ        Y1, Y0, Y0 \
	VEXTRACTI128  $1, Y0, X1 \
	VPADDQ        X1, X0, X0 \
	VPSHUFD       $0x4e, X0, X1 \
	VPADDQ        X1, X0, X0 \
	VMOVQ         X0, AX

// func foldx8(r, d *uint64, n int) (sum uint64)
// r[i] = rowFold(r[i], d[i]); sum is the sum of d.
TEXT ·foldx8(SB), NOSPLIT, $0-32
	MOVQ r+0(FP), DI
	MOVQ d+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ PRIME1, AX
	VPBROADCASTQ AX, Z28
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME4, AX
	VPBROADCASTQ AX, Z30
	VPXORQ Z0, Z0, Z0
	SHRQ $3, CX
	JZ   donefold

loopfold:
	VMOVDQU64 (SI), Z2
	VPADDQ    Z2, Z0, Z0
	VPMULLQ   Z29, Z2, Z2
	VPROLQ    $31, Z2, Z2
	VPMULLQ   Z28, Z2, Z2
	VPXORQ    (DI), Z2, Z2
	VPROLQ    $27, Z2, Z2
	VPMULLQ   Z28, Z2, Z2
	VPADDQ    Z30, Z2, Z2
	VMOVDQU64 Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loopfold

donefold:
	SUM8
	MOVQ AX, sum+24(FP)
	VZEROUPPER
	RET

// func finishx8(r *uint64, n int) (sum uint64)
// r[i] = rowFinish(r[i]); sum is the sum of the results.
TEXT ·finishx8(SB), NOSPLIT, $0-24
	MOVQ r+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ PRIME2, AX
	VPBROADCASTQ AX, Z29
	MOVQ PRIME3, AX
	VPBROADCASTQ AX, Z27
	VPXORQ Z0, Z0, Z0
	SHRQ $3, CX
	JZ   donefinish

loopfinish:
	VMOVDQU64 (DI), Z2
	AVALANCHE(Z2, Z3, Z29, Z27)
	VMOVDQU64 Z2, (DI)
	VPADDQ    Z2, Z0, Z0
	ADDQ $64, DI
	DECQ CX
	JNZ  loopfinish

donefinish:
	SUM8
	MOVQ AX, sum+16(FP)
	VZEROUPPER
	RET

// Index vectors for VPERMT2Q: with two registers each holding the four
// message words of two strings, permA gathers words 0 and 1 of the four
// strings, permB words 2 and 3; permLo and permHi then join the halves of
// two such results into one word of all eight strings.
DATA permA<>+0x00(SB)/8, $0
DATA permA<>+0x08(SB)/8, $4
DATA permA<>+0x10(SB)/8, $8
DATA permA<>+0x18(SB)/8, $12
DATA permA<>+0x20(SB)/8, $1
DATA permA<>+0x28(SB)/8, $5
DATA permA<>+0x30(SB)/8, $9
DATA permA<>+0x38(SB)/8, $13
GLOBL permA<>(SB), RODATA|NOPTR, $64

DATA permB<>+0x00(SB)/8, $2
DATA permB<>+0x08(SB)/8, $6
DATA permB<>+0x10(SB)/8, $10
DATA permB<>+0x18(SB)/8, $14
DATA permB<>+0x20(SB)/8, $3
DATA permB<>+0x28(SB)/8, $7
DATA permB<>+0x30(SB)/8, $11
DATA permB<>+0x38(SB)/8, $15
GLOBL permB<>(SB), RODATA|NOPTR, $64

DATA permLo<>+0x00(SB)/8, $0
DATA permLo<>+0x08(SB)/8, $1
DATA permLo<>+0x10(SB)/8, $2
DATA permLo<>+0x18(SB)/8, $3
DATA permLo<>+0x20(SB)/8, $8
DATA permLo<>+0x28(SB)/8, $9
DATA permLo<>+0x30(SB)/8, $10
DATA permLo<>+0x38(SB)/8, $11
GLOBL permLo<>(SB), RODATA|NOPTR, $64

DATA permHi<>+0x00(SB)/8, $4
DATA permHi<>+0x08(SB)/8, $5
DATA permHi<>+0x10(SB)/8, $6
DATA permHi<>+0x18(SB)/8, $7
DATA permHi<>+0x20(SB)/8, $12
DATA permHi<>+0x28(SB)/8, $13
DATA permHi<>+0x30(SB)/8, $14
DATA permHi<>+0x38(SB)/8, $15
GLOBL permHi<>(SB), RODATA|NOPTR, $64

// BCAST broadcasts the constant c to every lane of z.
#define BCAST(c, z) \
	MOVQ c, AX \
	VPBROADCASTQ AX, z

// LOADMSG loads the bytes of string j of the block (offsets at BX, data at
// DX) into bytes 2 and up of the 32-byte register dst, zeroing the rest.
// The load is masked to the string's own bytes, so it reads nothing
// outside them, whatever lies around.
#define LOADMSG(j, dst) \
	MOVL    (j*4)(BX), R8 \
	MOVL    (j*4+4)(BX), R9 \
	SUBQ    R8, R9 \
	SHLXQ   R9, R15, R10 \
	DECQ    R10 \
	SHLQ    $2, R10 \
	KMOVD   R10, K2 \
	VMOVDQU8.Z -2(DX)(R8*1), K2, dst

// STEP8 folds message word w into h (Z20) in the lanes of mask k.
#define STEP8(w, k) \
	VPMULLQ Z29, w, Z0 \
	VPROLQ  $31, Z0, Z0 \
	VPMULLQ Z28, Z0, Z0 \
	VPXORQ  Z20, Z0, Z0 \
	VPROLQ  $27, Z0, Z0 \
	VPMULLQ Z28, Z0, Z0 \
	VPADDQ  Z30, Z0, k, Z20

// STEP1 folds the low byte of Z1 into h in the lanes of mask k and shifts
// Z1 right by a byte.
#define STEP1(k) \
	VPANDQ  Z17, Z1, Z0 \
	VPSRLQ  $8, Z1, Z1 \
	VPMULLQ Z31, Z0, Z0 \
	VPXORQ  Z20, Z0, Z0 \
	VPROLQ  $11, Z0, Z0 \
	VPMULLQ Z28, Z0, k, Z20

// func hashShortx8(dst *uint64, offs *int32, data unsafe.Pointer, size int, n int, tag uint64) (done int)
// dst[i] = hashTagged(tag, data[offs[i]:offs[i+1]]) for i < n, a multiple
// of 8, eight strings at a time, where size = len(data) < 2^31. It stops
// before the first block of eight holding a string longer than 29 bytes
// (whose message would be 32 bytes or more) or an offset that is negative,
// beyond size or below the one before it, and returns how many it did. A
// block's nine offsets are all checked before any of its strings is read,
// so every read stays inside data.
TEXT ·hashShortx8(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ offs+8(FP), BX
	MOVQ data+16(FP), DX
	MOVQ size+24(FP), R13
	MOVQ n+32(FP), CX
	BCAST(PRIME1, Z28)
	BCAST(PRIME2, Z29)
	BCAST(PRIME3, Z27)
	BCAST(PRIME4, Z30)
	BCAST(PRIME5, Z31)
	MOVQ tag+40(FP), AX
	VPBROADCASTQ AX, Z26
	BCAST($1, Z18)
	BCAST($2, Z25)
	BCAST($3, Z19)
	BCAST($4, Z24)
	BCAST($7, Z23)
	BCAST($15, Z22)
	BCAST($23, Z21)
	BCAST($29, Z16)
	BCAST($0xff, Z17)
	VMOVDQU64 permA<>(SB), Z4
	VMOVDQU64 permB<>(SB), Z5
	VMOVDQU64 permLo<>(SB), Z6
	VMOVDQU64 permHi<>(SB), Z7
	MOVQ $1, R15
	XORQ R14, R14 // strings done
	SHRQ $3, CX
	JZ   doneshort

loopshort:
	// The block's nine offsets, read as unsigned, must not pass size; the
	// eight lengths (Z2, as quadwords) must lie in [0, 29]. Otherwise the
	// run ends here.
	VMOVDQU      (BX), Y0
	VMOVDQU      4(BX), Y1
	VPMAXUD      Y0, Y1, Y12
	VPMOVZXDQ    Y12, Z12
	VPBROADCASTQ R13, Z13
	VPCMPUQ      $6, Z13, Z12, K1
	VPSUBD       Y0, Y1, Y1
	VPMOVZXDQ    Y1, Z2
	VPCMPUQ      $6, Z16, Z2, K3
	KORB         K1, K3, K1
	KORTESTB     K1, K1
	JNZ          doneshort

	LOADMSG(0, Y8)
	LOADMSG(1, Y9)
	LOADMSG(2, Y10)
	LOADMSG(3, Y11)
	LOADMSG(4, Y12)
	LOADMSG(5, Y13)
	LOADMSG(6, Y14)
	LOADMSG(7, Y15)

	// Transpose: word k of the eight messages into one register each,
	// W0 = Z8, W1 = Z10, W2 = Z9, W3 = Z11.
	VINSERTI64X4 $1, Y9, Z8, Z8
	VINSERTI64X4 $1, Y11, Z10, Z10
	VINSERTI64X4 $1, Y13, Z12, Z12
	VINSERTI64X4 $1, Y15, Z14, Z14
	VMOVDQA64 Z8, Z9
	VPERMT2Q  Z10, Z4, Z8
	VPERMT2Q  Z10, Z5, Z9
	VMOVDQA64 Z12, Z13
	VPERMT2Q  Z14, Z4, Z12
	VPERMT2Q  Z14, Z5, Z13
	VMOVDQA64 Z8, Z10
	VPERMT2Q  Z12, Z6, Z8
	VPERMT2Q  Z12, Z7, Z10
	VMOVDQA64 Z9, Z11
	VPERMT2Q  Z13, Z6, Z9
	VPERMT2Q  Z13, Z7, Z11

	// The head bytes: tag and length.
	VPSLLQ $8, Z2, Z0
	VPORQ  Z0, Z8, Z8
	VPORQ  Z26, Z8, Z8

	// Z3 = L, the message length; h = prime5 + L.
	VPADDQ Z25, Z2, Z3
	VPADDQ Z31, Z3, Z20

	// Whole words: word k in the lanes where L >= 8(k+1).
	VPCMPUQ $6, Z23, Z3, K1
	VPCMPUQ $6, Z22, Z3, K3
	VPCMPUQ $6, Z21, Z3, K4
	STEP8(Z8, K1)
	STEP8(Z10, K3)
	STEP8(Z9, K4)

	// Z1 = the partial word: word L/8.
	VMOVDQA64 Z8, Z1
	VMOVDQA64 Z10, K1, Z1
	VMOVDQA64 Z9, K3, Z1
	VMOVDQA64 Z11, K4, Z1

	// Four bytes where L&4 != 0, then Z1 shifted past them.
	VPTESTMQ  Z24, Z3, K1
	VPSLLQ    $32, Z1, Z0
	VPSRLQ    $32, Z0, Z0
	VPMULLQ   Z28, Z0, Z0
	VPXORQ    Z20, Z0, Z0
	VPROLQ    $23, Z0, Z0
	VPMULLQ   Z29, Z0, Z0
	VPADDQ    Z27, Z0, K1, Z20
	VPANDQ    Z24, Z3, Z0
	VPSLLQ    $3, Z0, Z0
	VPSRLVQ   Z0, Z1, Z1

	// The last L&3 bytes.
	VPTESTMQ Z19, Z3, K1
	VPTESTMQ Z25, Z3, K3
	VPTESTMQ Z18, Z3, K4
	KANDB    K3, K4, K4
	STEP1(K1)
	STEP1(K3)
	STEP1(K4)

	AVALANCHE(Z20, Z0, Z29, Z27)
	VMOVDQU64 Z20, (DI)
	ADDQ $32, BX
	ADDQ $64, DI
	ADDQ $8, R14
	DECQ CX
	JNZ  loopshort

doneshort:
	MOVQ R14, done+48(FP)
	VZEROUPPER
	RET
