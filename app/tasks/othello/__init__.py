"""Othello for the Othello-GPT walkthrough: rules engine, game records, tokens, random games.

Li, Hopkins, Bau, Viégas, Pfister & Wattenberg (2023), "Emergent World Representations:
Exploring a Sequence Model Trained on a Synthetic Task", ICLR, https://arxiv.org/abs/2210.13382
(section 2: the game, the synthetic data set of uniformly random legal games, the 60-move
vocabulary). Nanda, Lee & Wattenberg (2023), "Emergent Linear Representations in World Models
of Self-Supervised Sequence Models", https://arxiv.org/abs/2309.00941 (probes read "mine /
theirs" relative to the side to move, which is why every board state here carries it).

Modules, one job each (all pure numpy):
  board   square names, start position, the scalar engine (legal moves, flips, passes)
  record  replay a move list into a checked ``GameRecord``; ``IllegalMoveError`` for the UI
  tokens  the 61-token vocabulary (0 = PAD, 1..60 = the non-centre squares)
  batch   bitboard generator of random legal games and vectorised board states

Squares are 0..63 row-major, named column letter + row number ("a1" = 0, "h8" = 63), as in
tournament records. Example: the first moves f5 d6 c3 are squares [37, 43, 18] and tokens
[34, 40, 19] (see ``tokens``); ``random_games(2, seed=0)`` gives two (60,) int8 rows of squares.
"""

from app.tasks.othello.batch import board_states, flip_bits, legal_bits, random_games, unpack
from app.tasks.othello.board import (
    BLACK, CENTRE, EMPTY, WHITE, board_text, counts, flips, format_moves, legal_mask, legal_moves,
    next_player, parse_moves, parse_square, play, square_name, start_board)
from app.tasks.othello.record import GameRecord, IllegalMoveError, replay
from app.tasks.othello.tokens import PAD, SQUARE_TO_TOKEN, TOKEN_TO_SQUARE, VOCAB_SIZE, decode, encode

__all__ = [
    "BLACK", "CENTRE", "EMPTY", "PAD", "SQUARE_TO_TOKEN", "TOKEN_TO_SQUARE", "VOCAB_SIZE", "WHITE",
    "GameRecord", "IllegalMoveError", "board_states", "board_text", "counts", "decode", "encode",
    "flip_bits", "flips", "format_moves", "legal_bits", "legal_mask", "legal_moves", "next_player",
    "parse_moves", "parse_square", "play", "random_games", "replay", "square_name", "start_board", "unpack",
]
