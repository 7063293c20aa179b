// The simulated kernel lands here.
