#ifndef VFIO_WARDEN_CUDEV_SHIM_H
#define VFIO_WARDEN_CUDEV_SHIM_H
#include <libudev.h>
#endif
