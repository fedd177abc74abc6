"""Hospital kiosks (自助机): signed device requests and one-patient sessions opened by a card read."""
