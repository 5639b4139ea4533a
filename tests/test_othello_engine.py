"""Othello engine: rules, published game records, the vectorised generator against the scalar engine."""

import doctest
import re

import numpy as np
import pytest

from app.tasks import othello as oth
from app.tasks.othello import batch as oth_batch
from app.tasks.othello import tokens as oth_tokens
from app.tasks.othello.board import BLACK, WHITE, board_text, counts, start_board

# Published records. Takizawa (2023), "Othello is solved", arXiv:2310.19387, Figure 1: a perfect-play
# game that ends in a 32-32 draw after all 60 moves.
SOLVED_GAME = ("F5D6C3D3 C4F4F6F3 E6E7D7C5 B6D8C6C7 D2B5A5A6 A7G5E3B4 C8G6G4C2 E8D1F7E2 G3H4F1E1 "
               "F2G1B1F8 G8B3H3B2 H5B7A3A4 A1A2C1H2 H1G2B8A8 G7H8H7H6")
# Warren D. Smith on the math-fun list ("othello puzzles"): an 11-move game that ends with black 14,
# white 1, and a wipe-out won by white whose record marks black's moves in upper case, white's in
# lower case, with 23 passes by black.
SHORT_GAME = "f5 f4 c3 e6 f7 g6 g4 e8 g8 g5 h5"
SHORT_GAME_FINAL = """\
........
........
..X.....
...XXXX.
...XXXXX
....X.X.
.....X..
....O.X."""
WIPEOUT_GAME = ("F5d6C4g5D7c7H5d8B8b7B6a7b5A6a5b4B3c6E8f8C8a8e7a4b2A2c2D2d1e2F2c5c3a1a3e6d3f6F7f1g2H2"
                "e3F4b1g1c1e1g8g7f3h1h3h4h6")


def names(squares) -> list[str]:
    return [oth.square_name(int(s)) for s in squares]


def test_square_names_and_parsing():
    assert [oth.square_name(i) for i in (0, 7, 8, 26, 27, 63)] == ["a1", "h1", "a2", "c4", "d4", "h8"]
    assert all(oth.parse_square(oth.square_name(i)) == i for i in range(64))
    assert oth.parse_square(" C4 ") == 26
    for junk in ("", "c", "c9", "i1", "c44", "4c", "c4;", None, 26):
        with pytest.raises(ValueError, match="not a square"):
            oth.parse_square(junk)
    for bad in (-1, 64, 3.0, True):
        with pytest.raises(ValueError, match="0..63"):
            oth.square_name(bad)
    assert oth.parse_moves("F5 d6,c3") == oth.parse_moves("f5d6c3") == [37, 43, 18]
    assert oth.format_moves([37, 43, 18, -1]) == "f5 d6 c3"
    with pytest.raises(ValueError, match="not a move list"):
        oth.parse_moves("f5d")


def test_start_position_and_first_moves():
    board = start_board()
    assert board.dtype == np.int8 and board.shape == (64,)
    assert board[27] == WHITE and board[28] == BLACK and board[35] == BLACK and board[36] == WHITE
    assert counts(board) == (2, 2)
    assert names(oth.legal_moves(board, BLACK)) == ["d3", "c4", "f5", "e6"]
    assert names(oth.legal_moves(board, WHITE)) == ["e3", "f4", "c5", "d6"]
    own, opp = np.array([oth_batch.BLACK_START]), np.array([oth_batch.WHITE_START])
    assert np.flatnonzero(oth.unpack(oth.legal_bits(own, opp))[0]).tolist() == oth.legal_moves(board, BLACK)


def test_flips_in_several_directions_at_once():
    """Black plays d4 (27): two stones west (c4 b4, closed by a4), one south (d5, closed by d6) and one
    south-east (e5, closed by f6) flip; e4 (no black stone behind) and c3 b2 (ends on empty a1) stay."""
    board = np.zeros(64, dtype=np.int8)
    board[[24, 43, 45]] = BLACK  # a4, d6, f6
    board[[25, 26, 35, 36, 28, 18, 9]] = WHITE  # b4, c4, d5, e5, e4, c3, b2
    assert names(oth.flips(board, BLACK, 27)) == ["b4", "c4", "d5", "e5"]
    after = oth.play(board.reshape(8, 8), BLACK, 27)
    assert after.shape == (8, 8) and board[27] == 0  # a new board of the input's shape; input untouched
    want = board.copy()
    want[[25, 26, 27, 35, 36]] = BLACK
    assert np.array_equal(after.reshape(-1), want)
    assert counts(after) == (counts(board)[0] + 1 + 4, counts(board)[1] - 4)
    own, opp = (board == BLACK).nonzero()[0], (board == WHITE).nonzero()[0]
    own_bits = np.array([sum(1 << int(s) for s in own)], dtype=np.uint64)
    opp_bits = np.array([sum(1 << int(s) for s in opp)], dtype=np.uint64)
    flipped = oth.flip_bits(own_bits, opp_bits, np.array([1 << 27], dtype=np.uint64))
    assert np.flatnonzero(oth.unpack(flipped)[0]).tolist() == [25, 26, 35, 36]
    legal = oth.unpack(oth.legal_bits(own_bits, opp_bits))[0]
    assert np.flatnonzero(legal).tolist() == oth.legal_moves(board, BLACK)


def test_no_wrap_around_the_board_edge():
    """Square indices run on from h1 (7) to a2 (8), but a line may not: black g1 + white h1 give black no
    move at a2, and black b8 + white a8 none at h7 (a bitboard shift without edge masks would say yes)."""
    for own_sq, opp_sq in ((6, 7), (57, 56)):  # (g1, h1) east then wrap; (b8, a8) west then wrap
        board = np.zeros(64, dtype=np.int8)
        board[own_sq], board[opp_sq] = BLACK, WHITE
        assert oth.legal_moves(board, BLACK) == []
        own, opp = np.array([1 << own_sq], dtype=np.uint64), np.array([1 << opp_sq], dtype=np.uint64)
        assert oth.legal_bits(own, opp)[0] == 0


def test_pass_and_early_end():
    """Only a1 black and b1 white: white has no move (nothing of black's to flank), black has c1."""
    board = np.zeros(64, dtype=np.int8)
    board[0], board[1] = BLACK, WHITE
    assert oth.legal_moves(board, WHITE) == [] and oth.legal_moves(board, BLACK) == [2]
    assert oth.next_player(board, BLACK) == BLACK  # white must pass, black moves again
    assert oth.next_player(board, WHITE) == BLACK
    end = oth.play(board, BLACK, 2)
    assert oth.next_player(end, BLACK) == 0  # no white stones left: nobody can move, 61 squares empty
    assert counts(end) == (3, 0)


def test_published_perfect_game_is_a_full_board_draw():
    rec = oth.replay(SOLVED_GAME)
    assert len(rec.moves) == 60 and rec.over and rec.passes == []
    assert counts(rec.boards[-1]) == (32, 32)
    assert (rec.players[:-1] == np.where(np.arange(60) % 2 == 0, 1, -1)).all()


def test_published_short_game_final_board():
    rec = oth.replay(SHORT_GAME)
    assert rec.over and len(rec.moves) == 11 and counts(rec.boards[-1]) == (14, 1)
    assert board_text(rec.boards[-1]) == SHORT_GAME_FINAL
    assert rec.legal[-1].sum() == 0 and rec.players[-1] == 0


def test_published_wipeout_game_with_passes():
    rec = oth.replay(WIPEOUT_GAME)
    case = [BLACK if c.isupper() else WHITE for c in re.findall("[A-Ha-h]", WIPEOUT_GAME)]
    assert rec.players[:-1].tolist() == case  # the engine's side to move matches the record at every move
    assert len(rec.passes) == 23 and rec.over and counts(rec.boards[-1]) == (0, 59)
    boards, player, legal = oth.board_states(rec.moves[None, :])
    assert np.array_equal(boards[0], rec.after) and np.array_equal(player[0], rec.players[1:])
    assert np.array_equal(legal[0], rec.legal[1:])


def test_record_fields_line_up():
    rec = oth.replay([37, 29, 18])  # f5 f4 c3
    assert rec.boards.shape == (4, 64) and rec.legal.shape == (4, 64) and rec.flipped.shape == (3, 64)
    assert np.array_equal(rec.before, rec.boards[:3]) and np.array_equal(rec.after, rec.boards[1:])
    assert names(np.flatnonzero(rec.flipped[0])) == ["e5"]
    assert names(np.flatnonzero(rec.legal[1])) == ["f4", "d6", "f6"]
    assert rec.players.tolist() == [1, -1, 1, -1] and not rec.over
    assert np.array_equal(oth.replay([37, 29, 18, -1, -1]).boards, rec.boards)  # trailing padding ignored


def test_illegal_moves_say_what_was_legal():
    with pytest.raises(oth.IllegalMoveError) as err:
        oth.replay([37, 37])
    assert str(err.value) == "move 2 (f5) is illegal here for white; legal moves: f4, d6, f6"
    assert isinstance(err.value, ValueError) and err.value.index == 1 and err.value.legal == [29, 43, 45]
    with pytest.raises(oth.IllegalMoveError, match=r"move 12 \(a1\) is illegal: the game is already over"):
        oth.replay(SHORT_GAME + " a1")
    with pytest.raises(oth.IllegalMoveError, match=r"move 1 \(99, not a square 0..63\)"):
        oth.replay([99])
    with pytest.raises(oth.IllegalMoveError, match=r"move 2 \(-1"):
        oth.replay([37, -1, 29])  # padding inside the list
    with pytest.raises(ValueError, match="integer square indices"):
        oth.replay([3.5])
    with pytest.raises(ValueError, match="not a move list"):
        oth.replay("f5 zz")
    with pytest.raises(ValueError, match="a1 is not a legal move for black: it flips no stone; legal moves: d3, c4"):
        oth.play(start_board(), BLACK, 0)
    with pytest.raises(ValueError, match="d4 is not a legal move for black: the square is already taken"):
        oth.play(start_board(), BLACK, 27)
    with pytest.raises(ValueError, match="player must be 1"):
        oth.legal_moves(start_board(), 2)


def test_generator_agrees_with_scalar_engine():
    """200 generated games replayed move by move: every move legal, same boards, passes and ends;
    padding only after a real end."""
    games = oth.random_games(200, seed=1)
    assert games.shape == (200, 60) and games.dtype == np.int8
    boards, player, legal = oth.board_states(games)
    n_pass = n_short = 0
    for i, row in enumerate(games):
        n = int((row >= 0).sum())
        assert (row[:n] >= 0).all() and (row[n:] == -1).all()  # padding only at the end
        rec = oth.replay(row)  # raises if any move is illegal
        assert rec.over  # the game really ended where the padding starts
        assert np.array_equal(boards[i, :n], rec.after) and np.array_equal(player[i, :n], rec.players[1:])
        assert np.array_equal(legal[i, :n], rec.legal[1:])
        assert (boards[i, n:] == rec.after[-1]).all() and (player[i, n:] == 0).all() and not legal[i, n:].any()
        n_pass += bool(rec.passes)
        n_short += n < 60
    assert n_pass >= 20 and n_short >= 1  # passes and early ends really were exercised


def test_stones_and_flips_add_up():
    """Each move adds one stone; the mover gains 1 + flips, the other side loses the flips."""
    games = oth.random_games(100, seed=2)
    boards, _, _ = oth.board_states(games)
    lengths = (games >= 0).sum(1)
    stones = (boards != 0).sum(-1)  # (n, 60)
    steps = np.arange(60)[None, :]
    assert (stones == np.where(steps < lengths[:, None], 5 + steps, 4 + lengths[:, None])).all()
    for row in games[:20]:
        rec = oth.replay(row)
        b, w = (rec.boards == BLACK).sum(1), (rec.boards == WHITE).sum(1)  # (T+1,)
        n_flip = rec.flipped.sum(1)  # (T,)
        mover = np.sign(rec.boards[1:, rec.moves].diagonal())  # side that played move t
        gain = np.where(mover == BLACK, np.diff(b), np.diff(w))
        loss = np.where(mover == BLACK, -np.diff(w), -np.diff(b))
        assert (gain == 1 + n_flip).all() and (loss == n_flip).all() and (n_flip >= 1).all()


def test_generator_is_seeded_and_uniform(monkeypatch):
    a = oth.random_games(300, seed=5)
    assert np.array_equal(a, oth.random_games(300, seed=5))
    assert not np.array_equal(a, oth.random_games(300, seed=6))
    monkeypatch.setattr(oth_batch, "CHUNK", 7)  # chunking must not change the games
    assert np.array_equal(oth.random_games(300, seed=5), a)
    assert np.array_equal(oth.random_games(20, seed=5), a[:20])
    assert oth.random_games(0).shape == (0, 60)
    with pytest.raises(ValueError, match="non-negative"):
        oth.random_games(-1)
    games = oth.random_games(4000, seed=0)
    first = np.bincount(games[:, 0], minlength=64)[[19, 26, 37, 44]]  # d3 c4 f5 e6
    assert first.sum() == 4000 and (abs(first - 1000) < 120).all()  # 120 is ~4.4 sd of a fair 1-in-4 draw
    after_f5 = games[games[:, 0] == 37, 1]
    replies = np.bincount(after_f5, minlength=64)[[29, 43, 45]]  # f4 d6 f6
    assert replies.sum() == len(after_f5) and (abs(replies - len(after_f5) / 3) < 0.1 * len(after_f5)).all()  # ~7 sd


def test_board_states_reject_bad_games():
    games = oth.random_games(3, seed=0).astype(np.int64)
    games[2, 5] = games[2, 4]  # replay an occupied square
    with pytest.raises(oth.IllegalMoveError, match=r"^game 2: move 6 \(") as err:
        oth.board_states(games)
    assert err.value.game == 2 and err.value.index == 5
    gap = oth.random_games(1, seed=0).astype(np.int64)
    gap[0, 3] = -1
    with pytest.raises(ValueError, match="after padding"):
        oth.board_states(gap)
    with pytest.raises(ValueError, match="0..63"):
        oth.board_states(np.array([[70]]))
    with pytest.raises(ValueError, match=r"\(n, T\)"):
        oth.board_states(np.array([37, 29]))
    boards, player, legal = oth.board_states(np.array([[37, 29, 18]]))  # a prefix of a game is fine
    assert boards.shape == (1, 3, 64) and player.tolist() == [[-1, 1, -1]] and legal.dtype == bool


def test_token_round_trip_and_vocab():
    assert oth.VOCAB_SIZE == 61 and oth.PAD == 0
    assert oth.SQUARE_TO_TOKEN.shape == (64,) and oth.TOKEN_TO_SQUARE.shape == (61,)
    assert (oth.SQUARE_TO_TOKEN[[27, 28, 35, 36]] == -1).all() and oth.TOKEN_TO_SQUARE[0] == -1
    playable = np.flatnonzero(oth.SQUARE_TO_TOKEN >= 0)
    assert np.array_equal(oth.SQUARE_TO_TOKEN[playable], np.arange(1, 61))  # increasing square order
    assert np.array_equal(oth.TOKEN_TO_SQUARE[1:], playable)
    games = oth.random_games(50, seed=3)
    tokens = oth.encode(games)
    assert tokens.dtype == np.int64 and tokens.shape == games.shape and ((tokens == 0) == (games == -1)).all()
    assert np.array_equal(oth.decode(tokens), games)
    with pytest.raises(ValueError, match="no token"):
        oth.encode([27])
    with pytest.raises(ValueError, match="0..60"):
        oth.decode([61])
    assert doctest.testmod(oth_tokens).failed == 0  # the worked example in the docstring holds
