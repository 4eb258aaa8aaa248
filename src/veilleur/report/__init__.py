"""Outputs of a scan: the findings document (contracts §4) and a readable HTML report."""
